/*
 * http: each task fetches a URL `requests` times, from the built-in server
 * unless url is set; per-request latency (connect to last byte), errors.
 */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "workloads/http.h"
#include "workloads/httpd.h"
#include "workloads/workload.h"

#define HTTP_REQUESTS_MAX 1000000u
#define HTTP_TIMEOUT_MAX (3600 * CONC_NS_PER_S)
/* Descriptors a run needs beside one connection per task. */
#define HTTP_FD_SPARE 64u

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
    { NULL },
};

#ifdef CONC_HAVE_HTTP_PARSER
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

    (void)index;
    (void)tasks;
    t->sh = sh;
    t->fd = -1;
    t->state = HTTP_S_IDLE;
    t->lat_ns = malloc(sh->requests * sizeof(*t->lat_ns));
    return t->lat_ns ? 0 : -ENOMEM;
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
