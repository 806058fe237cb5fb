/*
 * httpd: the built-in HTTP/1.1 server that `concbench serve` wraps, and the
 * ready line by which a parent (the http workload) learns its port.
 */
#ifndef CONC_HTTPD_H
#define CONC_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "lib/clock.h"

/* Bounds of delay and size, for the server's options and its query alike. */
#define CONC_HTTPD_DELAY_MAX (3600 * CONC_NS_PER_S)
#define CONC_HTTPD_SIZE_MAX (1ULL << 30)

/*
 * Why the server is compiled out of this build ("built without libuv or
 * http-parser"), or NULL when it is in.
 */
extern const char *const conc_httpd_unavailable;

/* What every answer to GET / is, unless its query says otherwise. */
struct conc_httpd_config {
    uint64_t delay_ns; /* wait this long before answering, <= DELAY_MAX */
    uint64_t size;     /* body bytes, <= SIZE_MAX */
    bool keepalive;    /* keep a connection open when the client asks */
    /*
     * What a client may hold: a request must arrive whole (headers and
     * body) within header_timeout_ns of its first byte (408, then close);
     * a connection with no request under way is closed after
     * idle_timeout_ns; a body over max_body bytes gets 413 and a close;
     * beyond max_conns open connections (0: as many as 'ulimit -n'
     * leaves, less a reserve) new ones are closed at once. 0 timeouts
     * mean none.
     */
    uint64_t header_timeout_ns, idle_timeout_ns, max_body;
    uint64_t max_conns;
};

/* An address to listen on. */
struct conc_httpd_addr {
    struct sockaddr_storage ss;
    char shown[64]; /* "127.0.0.1" or "[::1]": for the ready line and
                       messages */
    bool loopback;
};

/*
 * Parses an IPv4 or IPv6 literal ("[::1]" allowed) or "localhost" with
 * port into a. A wildcard names no address, so it is refused: the server
 * listens on the network only when the address is written out. 0,
 * -EINVAL for anything but an address, -EADDRNOTAVAIL for a wildcard
 * (0.0.0.0, ::); no message, since the caller knows which flag it read.
 */
int conc_httpd_addr_parse(const char *s, unsigned port,
                          struct conc_httpd_addr *a);

struct conc_httpd;

/*
 * Binds a, listens and returns the server in *out, not yet serving. 0;
 * -ENOTSUP when conc_httpd_unavailable; or -errno with a message ("cannot
 * listen on '127.0.0.1:80': address already in use"), *out untouched.
 */
int conc_httpd_start(struct conc_httpd **out, const struct conc_httpd_addr *a,
                     const struct conc_httpd_config *cfg);

/* The port it listens on: the one given, or the free one the kernel chose. */
unsigned conc_httpd_port(const struct conc_httpd *srv);

/*
 * Serves until conc_httpd_stop(), then closes every connection (a
 * delayed answer is dropped) and returns 0.
 */
int conc_httpd_run(struct conc_httpd *srv);

/*
 * Makes conc_httpd_run() return, whether it is running yet or not. Safe
 * in a signal handler (it sets a flag and wakes the loop), up to
 * conc_httpd_free().
 */
void conc_httpd_stop(struct conc_httpd *srv);

/* Frees a server that conc_httpd_run() has returned from, or never ran. */
void conc_httpd_free(struct conc_httpd *srv);

/*
 * The ready line, one line the server writes on its stdout once it
 * accepts: "listening on http://HOST:PORT". These three are its only
 * definition, for the writer and every reader.
 *
 * conc_httpd_ready_format: the line for host (as shown: "[::1]") and port
 * (any text: "PORT" for a message), without the newline, into buf; the
 * snprintf() result.
 */
int conc_httpd_ready_format(char *buf, size_t len, const char *host,
                            const char *port);

/* Writes the line and its newline to f and flushes it. 0, or -errno. */
int conc_httpd_ready_write(FILE *f, const char *host, unsigned port);

/*
 * Reads the port from line (its newline optional) when it is the ready
 * line of a server on host. 0 with *port in [1, 65535], or -EPROTO; no
 * message.
 */
int conc_httpd_ready_parse(const char *line, const char *host,
                           unsigned *port);

#endif
