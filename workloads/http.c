/*
 * http: each task fetches a URL `requests` times, from the built-in server
 * unless url is set; per-request latency (connect to last byte), errors.
 * With a rate, an open loop: requests leave on a schedule, and latency
 * counts from when each was meant to leave.
 */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/sync.h"
#include "workloads/http.h"
#include "workloads/httpd.h"
#include "workloads/workload.h"

#define HTTP_REQUESTS_MAX 1000000u
#define HTTP_TIMEOUT_MAX (3600 * CONC_NS_PER_S)
/* Descriptors a run needs beside one connection per task. */
#define HTTP_FD_SPARE 64u
#define HTTP_RATE_MAX 100000000u
#define HTTP_CONNECTIONS_MAX 100000u
/* An open loop's run is overloaded below this share of its offered rate. */
#define HTTP_OVERLOAD 0.9

static const struct conc_opt http_opts[] = {
    { "url", CONC_OPT_STRING, NULL, "fetch this http:// URL (unset: start "
      "the built-in server on loopback)", NULL, 0, 0 },
    { "requests", CONC_OPT_COUNT, "10", "fetches per task", NULL, 1,
      HTTP_REQUESTS_MAX },
    { "delay", CONC_OPT_DURATION, "10ms", "the built-in server waits this "
      "long before each answer", NULL, 0, CONC_HTTPD_DELAY_MAX },
    { "size", CONC_OPT_SIZE, "1KiB", "the built-in server's body bytes",
      NULL, 0, CONC_HTTPD_SIZE_MAX },
    { "keepalive", CONC_OPT_BOOL, "off", "reuse a task's connection (off: "
      "one connection per fetch, 'Connection: close')", NULL, 0, 0 },
    { "timeout", CONC_OPT_DURATION, "5s", "per request, from connect to the "
      "last byte", NULL, CONC_NS_PER_MS, HTTP_TIMEOUT_MAX },
    { "rate", CONC_OPT_COUNT, NULL, "open loop: requests per second, all "
      "tasks together, sent on schedule, answered or not; latency from each "
      "one's intended send time (unset: closed loop)", NULL, 1,
      HTTP_RATE_MAX },
    { "duration", CONC_OPT_DURATION, NULL, "open loop: how long the "
      "schedule runs (instead of `requests` a task)", NULL, CONC_NS_PER_MS,
      HTTP_TIMEOUT_MAX },
    { "arrivals", CONC_OPT_CHOICE, "uniform", "open loop: evenly spaced "
      "sends, or a Poisson process", "uniform|poisson", 0, 0 },
    { "seed", CONC_OPT_COUNT, "1", "open loop: the poisson arrivals' seed",
      NULL, 0, 0 },
    { "connections", CONC_OPT_COUNT, "1", "open loop: connections a task "
      "may keep open; a request due when all are busy waits (counted as "
      "conn_exhausted)", NULL, 1, HTTP_CONNECTIONS_MAX },
    { "late", CONC_OPT_DURATION, "1ms", "open loop: a send this much after "
      "its time counts as send_late", NULL, 0, HTTP_TIMEOUT_MAX },
    { NULL },
};

#ifdef CONC_HAVE_HTTP_PARSER
/* The open loop's options, which mean nothing without a rate. */
static const char *const http_open_opts[] = {
    "duration", "arrivals", "seed", "connections", "late",
};

/*
 * An open loop's options together: no option that needs a rate without
 * one, one length (requests or duration), and a plan a task can record.
 * Its file descriptors a task into *per_task.
 */
static int http_check_open(const struct conc_params *p, unsigned tasks,
                           uint64_t *per_task)
{
    bool rate = conc_param_present(p, "rate");
    double n;

    *per_task = 1;
    for (size_t i = 0; i < sizeof(http_open_opts) / sizeof(*http_open_opts);
         i++)
        if (!rate && conc_param_isset(p, http_open_opts[i]))
            return conc_error_msg(-EINVAL, "option '%s' is for an open "
                                  "loop: it needs 'rate' (requests per "
                                  "second)", http_open_opts[i]);
    if (!rate)
        return 0;
    if (conc_param_isset(p, "requests") && conc_param_present(p, "duration"))
        return conc_error_msg(-EINVAL, "options 'requests' and 'duration' "
                              "both say how long an open loop runs: give "
                              "one");
    if (conc_param_isset(p, "seed") && conc_param_u64(p, "arrivals") == 0)
        return conc_error_msg(-EINVAL, "option 'seed' draws poisson "
                              "arrivals: it needs arrivals=poisson");
    n = (double)conc_param_u64(p, "requests");
    if (conc_param_present(p, "duration")) {
        n = (double)conc_param_u64(p, "rate") *
            (double)conc_param_u64(p, "duration") / CONC_NS_PER_S / tasks;
        if (n * tasks < 1)
            return conc_error_msg(-EINVAL, "rate=%s for duration=%s "
                                  "schedules no request: raise either",
                                  conc_param_str(p, "rate"),
                                  conc_param_str(p, "duration"));
        if (n > HTTP_REQUESTS_MAX)
            return conc_error_msg(-E2BIG, "rate=%s for duration=%s is %.0f "
                                  "requests a task, over the %u a task "
                                  "records: run more tasks, or lower rate "
                                  "or duration", conc_param_str(p, "rate"),
                                  conc_param_str(p, "duration"), n,
                                  HTTP_REQUESTS_MAX);
    }
    /* Its connections (no more than its requests), epoll and timerfd. */
    *per_task = conc_param_u64(p, "connections");
    if ((double)*per_task > ceil(n))
        *per_task = (uint64_t)ceil(n);
    *per_task += 2;
    return 0;
}

static int http_check(const struct conc_params *p, unsigned tasks)
{
    struct rlimit rl;
    struct http_url u;
    uint64_t per_task, need;
    int err;

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
    if ((err = http_check_open(p, tasks, &per_task)) != 0)
        return err;
    need = (uint64_t)tasks * per_task + HTTP_FD_SPARE;
    /*
     * Every task may hold its connections at once (the built-in server
     * holds the other ends, under the same limit).
     */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        need > rl.rlim_cur) {
        if (per_task > 1)
            return conc_error_msg(-EMFILE, "%u http tasks need up to %llu "
                                  "file descriptors (%llu connection%s, an "
                                  "epoll and a timer each, and %u spare), "
                                  "but 'ulimit -n' is %llu: raise it with "
                                  "'ulimit -n %llu', or run fewer tasks or "
                                  "connections", tasks,
                                  (unsigned long long)need,
                                  (unsigned long long)(per_task - 2),
                                  per_task == 3 ? "" : "s", HTTP_FD_SPARE,
                                  (unsigned long long)rl.rlim_cur,
                                  (unsigned long long)need);
        return conc_error_msg(-EMFILE, "%u http tasks need up to %llu file "
                              "descriptors (one connection each and %u "
                              "spare), but 'ulimit -n' is %llu: raise it "
                              "with 'ulimit -n %llu' or run fewer tasks",
                              tasks, (unsigned long long)need, HTTP_FD_SPARE,
                              (unsigned long long)rl.rlim_cur,
                              (unsigned long long)need);
    }
    return 0;
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
    if (sh->mut)
        conc_shm_free(sh->mut, sizeof(*sh->mut));
    free(sh->plan);
    free(sh->request);
    free(sh);
}

static void http_run_start(void *shared)
{
    struct http_shared *sh = shared;
    struct http_mut *m = sh->mut;

    if (!m)
        return;
    atomic_store(&m->zero_ns, 0);
    atomic_store(&m->first_ns, 0);
    atomic_store(&m->last_ns, 0);
    atomic_store(&m->late, 0);
    atomic_store(&m->exhausted, 0);
    conc_hist_init(&m->lag);
}

/* An open loop's plan: each task's requests, and their sum. */
static int http_setup_open(struct http_shared *sh, const struct conc_params *p,
                           unsigned tasks)
{
    bool timed = conc_param_present(p, "duration");
    uint64_t duration = timed ? conc_param_u64(p, "duration") : 0;

    sh->rate = conc_param_u64(p, "rate");
    sh->late_ns = conc_param_u64(p, "late");
    sh->seed = conc_param_u64(p, "seed");
    sh->connections = (unsigned)conc_param_u64(p, "connections");
    sh->poisson = conc_param_u64(p, "arrivals") == 1;
    sh->plan = conc_xcalloc(tasks ? tasks : 1, sizeof(*sh->plan));
    sh->planned = 0;
    for (unsigned i = 0; i < tasks; i++) {
        struct http_sched s;
        http_sched_init(&s, (double)sh->rate, sh->poisson, sh->seed, i, tasks);
        sh->plan[i] = timed ? http_sched_count(&s, duration,
                                               HTTP_REQUESTS_MAX)
                            : sh->requests;
        sh->planned += sh->plan[i];
    }
    sh->mut = conc_shm_alloc(sizeof(*sh->mut));
    if (!sh->mut)
        return conc_error(-errno, "cannot map the http workload's state");
    http_run_start(sh);
    return 0;
}

static int http_setup(void **shared, const struct conc_params *p,
                      unsigned tasks)
{
    struct http_shared *sh = conc_xcalloc(1, sizeof(*sh));
    struct addrinfo hints, *res;
    struct http_url u;
    int err, n;

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
    sh->planned = (uint64_t)tasks * sh->requests;
    if (conc_param_present(p, "rate") &&
        (err = http_setup_open(sh, p, tasks)) != 0)
        goto fail;
    if (sh->builtin)
        err = http_server_start(p, &sh->server, &u);
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
    uint64_t n = sh->rate ? sh->plan[index] : sh->requests;
    int err;

    memset(t, 0, sizeof(*t));
    t->sh = sh;
    t->one.t = t;
    t->one.fd = -1;
    t->one.state = HTTP_S_IDLE;
    t->epfd = t->tfd = -1;
    t->lat_ns = malloc((n ? n : 1) * sizeof(*t->lat_ns));
    if (!t->lat_ns)
        return -ENOMEM;
    if (sh->rate && (err = http_open_init(t, index, tasks)) != 0) {
        free(t->lat_ns);
        t->lat_ns = NULL;
        return err;
    }
    return 0;
}

/* Lowers (or raises, when up) *x to v atomically; 0 in *x is unset. */
static void http_atomic_bound(_Atomic uint64_t *x, uint64_t v, bool up)
{
    uint64_t cur = atomic_load(x);

    while (v && (cur == 0 || (up ? v > cur : v < cur)) &&
           !atomic_compare_exchange_weak(x, &cur, v))
        ;
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
    if (t->sh->rate) {
        struct http_mut *m = t->sh->mut;
        for (uint64_t i = 0; i < t->issued; i++)
            conc_hist_add_atomic(&m->lag, t->lag_ns[i]);
        atomic_fetch_add(&m->late, t->late);
        atomic_fetch_add(&m->exhausted, t->exhausted);
        http_atomic_bound(&m->first_ns, t->first_ns, false);
        http_atomic_bound(&m->last_ns, t->last_ns, true);
    }
    return 0;
}

static void http_task_fini(void *task)
{
    struct http_task *t = task;

    http_close(&t->one);
    if (t->sh->rate)
        http_open_fini(t);
    free(t->lat_ns);
    t->lat_ns = NULL;
}

static int http_verify(void *shared, const struct conc_totals *tot, char *why,
                       size_t len)
{
    const struct http_shared *sh = shared;
    uint64_t want = sh->planned;

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

/* "12,345": counts in the summary line. */
static void http_fmt_count(char *buf, size_t len, uint64_t v)
{
    char raw[32];
    int n = snprintf(raw, sizeof(raw), "%llu", (unsigned long long)v);
    size_t o = 0;

    for (int i = 0; i < n && o + 1 < len; i++) {
        if (i && (n - i) % 3 == 0 && o + 2 < len)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
}

/*
 * An open loop's own numbers: the rate offered and achieved (answers over
 * the time from the first to the last, so the server's delay, which both
 * ends share, cancels out), the client's lateness apart from the server's
 * latency (sends late beyond `late`, their lag, requests that found every
 * connection busy), and whether the run was overloaded.
 */
static size_t http_run_metrics(void *shared, const struct conc_totals *tot,
                               const struct conc_task_out *out,
                               unsigned tasks, struct conc_metric *m,
                               size_t max, char *note, size_t note_len)
{
    struct http_shared *sh = shared;
    struct http_mut *mu = sh->mut;
    uint64_t first, last, late, exhausted;
    struct conc_pcts lag;
    double achieved = 0;
    bool overloaded;
    char a[32], b[32], c[32], d[32], e[32];

    (void)out;
    (void)tasks;
    note[0] = '\0';
    if (!sh->rate || max < 8)
        return 0;
    first = atomic_load(&mu->first_ns);
    last = atomic_load(&mu->last_ns);
    late = atomic_load(&mu->late);
    exhausted = atomic_load(&mu->exhausted);
    if (tot->result >= 2 && last > first)
        achieved = (double)(tot->result - 1) * CONC_NS_PER_S /
                   (double)(last - first);
    overloaded = achieved < HTTP_OVERLOAD * (double)sh->rate;
    conc_hist_pcts(&mu->lag, &lag);
    m[0] = (struct conc_metric){ "offered_rps", (double)sh->rate };
    m[1] = (struct conc_metric){ "achieved_rps", achieved };
    m[2] = (struct conc_metric){ "send_late", (double)late };
    m[3] = (struct conc_metric){ "send_lag_p50_ns", (double)lag.p50 };
    m[4] = (struct conc_metric){ "send_lag_p99_ns", (double)lag.p99 };
    m[5] = (struct conc_metric){ "send_lag_max_ns", (double)lag.max };
    m[6] = (struct conc_metric){ "conn_exhausted", (double)exhausted };
    m[7] = (struct conc_metric){ "overloaded", overloaded };
    http_fmt_count(a, sizeof(a), late);
    http_fmt_count(b, sizeof(b), mu->lag.count);
    http_fmt_count(c, sizeof(c), exhausted);
    http_fmt_count(e, sizeof(e), sh->rate);
    snprintf(note, note_len, "%-21s%.1f of %s req/s; %s of %s sends late "
             "(lag p99 %s), %s found no connection",
             overloaded ? "Overload:" : "Open loop:", achieved, e, a, b,
             conc_fmt_ns(d, sizeof(d), (double)lag.p99), c);
    return 8;
}

const struct conc_workload conc_workload_http = {
    .name = "http",
    .summary = "each task fetches a URL `requests` times, or with a rate "
               "sends on a schedule (I/O-bound; the built-in server unless "
               "url is set)",
    .op_name = "request_ns",
    .opts = http_opts,
    .task_size = sizeof(struct http_task),
    .check = http_check,
    .run_start = http_run_start,
    .setup = http_setup,
    .task_init = http_task_init,
    .step = http_step,
    .task_result = http_task_result,
    .task_fini = http_task_fini,
    .verify = http_verify,
    .run_metrics = http_run_metrics,
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
