/*
 * The http workload's internals, shared by http.c (the workload object),
 * http-client.c, http-open.c, http-sched.c, http-url.c and http-launch.c.
 */
#ifndef CONC_HTTP_H
#define CONC_HTTP_H

#include <stdatomic.h>
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

/*
 * The arrival schedule of one open-loop task: when each of its requests is
 * meant to leave, as an offset from the run's time zero. The run's rate is
 * split evenly over its tasks; uniform arrivals interleave the tasks' ticks
 * so that the run's requests are 1/rate apart, poisson ones draw each gap
 * from an exponential distribution (a seeded splitmix64 stream per task).
 */
struct http_sched {
    double rate;      /* the run's requests per second, every task */
    unsigned index, tasks;
    bool poisson;
    uint64_t k;       /* requests scheduled so far */
    double at_ns;     /* poisson: the offset of the last one */
    uint64_t rng;     /* poisson: the generator's state */
};

/*
 * Starts task index (of tasks)'s schedule at rate requests per second
 * (> 0) across the run; seed picks the poisson stream.
 */
void http_sched_init(struct http_sched *s, double rate, bool poisson,
                     uint64_t seed, unsigned index, unsigned tasks);

/* The next request's offset from time zero, in ns; never decreasing. */
uint64_t http_sched_next(struct http_sched *s);

/*
 * How many requests the fresh schedule s (as http_sched_init left it)
 * puts before duration_ns, at most max; s itself is not advanced.
 */
uint64_t http_sched_count(const struct http_sched *s, uint64_t duration_ns,
                          uint64_t max);

#ifdef CONC_HAVE_HTTP_PARSER
#include <http_parser.h>

/* Syscalls one step may make before it lets other tasks run. */
#define HTTP_STEP_OPS 64

/*
 * Splits an http:// URL into u. 0, or -EINVAL with a one-line message:
 * https, other schemes, no host, a bad port and credentials are refused.
 */
int http_url_parse(const char *url, struct http_url *u);

/*
 * What the tasks of an open-loop run write together, in conc_shm_alloc
 * memory (forked children included); reset before each run.
 */
struct http_mut {
    _Atomic uint64_t zero_ns;  /* the schedule's time zero: the first task's
                                  first step */
    _Atomic uint64_t first_ns, last_ns; /* the run's first and last answer */
    _Atomic uint64_t late, exhausted;   /* sums of the tasks' counts */
    struct conc_hist lag;      /* every request's send lag */
};

/* Shared, read-only while tasks run (but for mut and said). */
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
    /* Open loop (rate set); rate 0 is the closed loop. */
    uint64_t rate;         /* requests per second, all tasks together */
    uint64_t late_ns;      /* a send later than this is counted late */
    uint64_t seed;
    unsigned connections;  /* per task */
    bool poisson;
    uint64_t *plan;        /* [tasks]: each task's requests */
    uint64_t planned;      /* their sum */
    struct http_mut *mut;
};

enum http_state {
    HTTP_S_IDLE,       /* between requests */
    HTTP_S_CONNECT,    /* no connection: open one */
    HTTP_S_CONNECTING, /* connect() in progress */
    HTTP_S_SENDING,
    HTTP_S_RECEIVING,
    HTTP_S_DRAINING,   /* response complete; waiting for the server's close */
};

struct http_task;

/* One connection and the request on it. */
struct http_conn {
    struct http_task *t; /* its task */
    http_parser parser;
    int fd;
    enum http_state state;
    enum conc_want want; /* what it waits for (READ or WRITE) */
    bool reused;      /* this request went out on a kept connection */
    bool retried;     /* ... and was resent once on a fresh one */
    bool got_bytes;   /* some of the response arrived */
    bool complete;    /* the parser saw the whole response */
    bool keep;        /* the server keeps the connection open */
    bool has_length;
    bool queued;      /* open loop: on the task's list to resume */
    unsigned status;
    uint32_t watched; /* open loop: its epoll events (0: not added) */
    uint64_t content_length, body;
    size_t sent;
    uint64_t origin_ns; /* latency counts from here: the request's start
                           (closed loop) or its intended time (open) */
    uint64_t start_ns, deadline_ns, last_byte_ns;
};

struct http_task {
    const struct http_shared *sh;
    struct http_conn one; /* the closed loop's connection */
    unsigned done, ok; /* requests finished, and finished well */
    uint64_t bytes;
    uint32_t errors[CONC_ERR_KINDS];
    uint64_t *lat_ns;  /* [requests], or [planned] in the open loop */
    uint64_t first_ns, last_ns; /* its first and last answer */
    /* The open loop. */
    struct http_sched sched;
    uint64_t planned, issued; /* requests scheduled, and begun */
    uint64_t zero_ns;   /* the run's time zero (0: not yet started) */
    uint64_t next_ns;   /* when request `issued` is meant to leave */
    uint64_t *lag_ns;   /* [planned]: each begun request's send lag */
    uint64_t late, exhausted;
    bool waited;        /* request `issued` found no connection free */
    int epfd, tfd;      /* its connections' epoll, and its timerfd */
    uint64_t armed_ns;  /* the timerfd's target, 0 when not armed */
    uint64_t check_ns;  /* no request's deadline comes before this */
    struct http_conn *conns;  /* [sh->connections] */
    struct http_conn **spare; /* stack of conns without a request */
    struct http_conn **ready; /* conns a step stopped before they waited */
    unsigned nspare, nready;
};

/*
 * The workload's step: runs t's fetches (from HTTP_S_IDLE with fd -1)
 * until one needs to wait, or a bounded number of syscalls has passed,
 * and says which in w. Always 0: a failed fetch is counted in t->errors
 * (its first of a kind in a cell explained on stderr), not returned. With
 * a rate it is http_open_step's.
 */
int http_step(void *task, struct conc_wait *w);

/*
 * The open loop's step: begins each request of t's schedule when it is
 * due, on any of up to sh->connections connections (waiting for one when
 * all are busy), drives every connection that is ready, and waits in w
 * for its epoll fd (connections and a timerfd set to the next send). 0, or
 * -errno when epoll itself fails.
 */
int http_open_step(struct http_task *t, struct conc_wait *w);

/* Prepares t's open-loop state (its plan, epoll, timerfd); 0 or -errno. */
int http_open_init(struct http_task *t, unsigned index, unsigned tasks);

/* Frees what http_open_init made; closes every connection. */
void http_open_fini(struct http_task *t);

/* Begins a request on c whose latency counts from origin_ns. */
void http_begin(struct http_task *t, struct http_conn *c, uint64_t origin_ns);

/*
 * One step of c's request (not HTTP_S_IDLE): 1 when c must wait (c->want
 * says for what), 0 when it moved on (c is HTTP_S_IDLE once its request
 * ended, counted in t).
 */
int http_op(struct http_task *t, struct http_conn *c);

/* Closes c's connection, if it has one. */
void http_close(struct http_conn *c);
#endif

#endif
