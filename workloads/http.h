/*
 * The http workload's internals, shared by http.c (the workload object),
 * http-client.c, http-url.c and http-launch.c.
 */
#ifndef CONC_HTTP_H
#define CONC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lib/opts.h"
#include "workloads/workload.h"

/* The parts of an http:// URL a fetch needs. */
struct http_url {
    char host[256];     /* for getaddrinfo: no brackets */
    char port[8];       /* "80" unless given */
    char hostport[280]; /* the Host header */
    char *target;       /* path and query, owned: free() it */
};

/*
 * Starts `concbench serve` (this very binary) on 127.0.0.1 with a free
 * port, the delay and size of p and keep-alive on, and waits for its ready
 * line. 0 with the child in *server and u naming it (u->target "/"), or
 * -errno with a message and no child left.
 */
int http_server_start(const struct conc_params *p, pid_t *server,
                      struct http_url *u);

/*
 * Stops the built-in server with SIGTERM (SIGKILL after 2 s) and reaps
 * it; it may already be gone. Warns when it ended badly.
 */
void http_server_stop(pid_t pid);

#ifdef CONC_HAVE_HTTP_PARSER
#include <http_parser.h>

/*
 * Splits an http:// URL into u. 0, or -EINVAL with a one-line message:
 * https, other schemes, no host, a bad port and credentials are refused.
 */
int http_url_parse(const char *url, struct http_url *u);

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
 * The workload's step: runs t's fetches (from HTTP_S_IDLE with fd -1)
 * until one needs to wait, or a bounded number of syscalls has passed,
 * and says which in w. Always 0: a failed fetch is counted in t->errors
 * (its first of a kind in a cell explained on stderr), not returned.
 */
int http_step(void *task, struct conc_wait *w);

/* Closes t's connection, if it has one. */
void http_close(struct http_task *t);
#endif

#endif
