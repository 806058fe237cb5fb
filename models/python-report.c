/*
 * What the python model tells its script (the workload's options as
 * concbench parsed them) and what it reads back: the script's line-based
 * answer, put into the run's task outputs and its self-timed section.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>

#include "lib/err.h"
#include "lib/hist.h"
#include "models/python.h"
#include "workloads/http.h"

/* Appends one formatted argument to argv, its text to buf. */
static int python_arg(char **argv, int *argc, char *buf, size_t len,
                      size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int python_arg(char **argv, int *argc, char *buf, size_t len,
                      size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*argc >= PYTHON_ARGV_MAX - 1 || *used >= len)
        return conc_error_msg(-ENOSPC, "too many arguments for the python "
                              "script");
    va_start(ap, fmt);
    n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *used)
        return conc_error_msg(-ENOSPC, "the python script's arguments are "
                              "too long");
    argv[(*argc)++] = buf + *used;
    argv[*argc] = NULL;
    *used += (size_t)n + 1;
    return 0;
}

#ifdef CONC_HAVE_HTTP_PARSER
/*
 * Where the http workload's setup points its fetches (the built-in server
 * it started, or url=) and the request it sends, byte for byte (in hex).
 */
static int python_http_args(const struct conc_run *r, char **argv, int *argc,
                            char *buf, size_t len, size_t *used)
{
    const struct http_shared *sh = r->shared;
    char host[NI_MAXHOST], port[NI_MAXSERV], *hex;
    int err, n;

    n = getnameinfo((const struct sockaddr *)&sh->addr, sh->addr_len, host,
                    sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV);
    if (n)
        return conc_error_msg(-EINVAL, "cannot name the http server's "
                              "address: %s", gai_strerror(n));
    hex = conc_xmalloc(2 * sh->request_len + 1);
    for (size_t i = 0; i < sh->request_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)sh->request[i]);
    hex[2 * sh->request_len] = '\0';
    if ((err = python_arg(argv, argc, buf, len, used, "host=%s", host)) ||
        (err = python_arg(argv, argc, buf, len, used, "port=%s", port)) ||
        (err = python_arg(argv, argc, buf, len, used, "where=%s",
                          sh->where)) ||
        (err = python_arg(argv, argc, buf, len, used, "request=%s", hex))) {
        free(hex);
        return err;
    }
    free(hex);
    return 0;
}
#endif

int python_run_args(const struct conc_run *r, unsigned workers, char **argv,
                    int *argc, char *buf, size_t len)
{
    const struct conc_params *wp = r->wp;
    size_t used = 0;
    int err;

    if ((err = python_arg(argv, argc, buf, len, &used, "%s", r->w->name)) ||
        (err = python_arg(argv, argc, buf, len, &used, "%u", r->tasks)) ||
        (err = python_arg(argv, argc, buf, len, &used, "%u", workers)))
        return err;
    for (int i = 0; wp && wp->opts && wp->opts[i].key; i++) {
        const struct conc_opt *o = &wp->opts[i];
        if (!conc_param_present(wp, o->key))
            continue;
        if (o->type == CONC_OPT_CHOICE || o->type == CONC_OPT_STRING)
            err = python_arg(argv, argc, buf, len, &used, "%s=%s", o->key,
                             conc_param_str(wp, o->key));
        else
            err = python_arg(argv, argc, buf, len, &used, "%s=%llu", o->key,
                             (unsigned long long)conc_param_u64(wp, o->key));
        if (err)
            return err;
    }
#ifdef CONC_HAVE_HTTP_PARSER
    if (strcmp(r->w->name, "http") == 0)
        return python_http_args(r, argv, argc, buf, len, &used);
#endif
    return 0;
}

/* The next whitespace-separated unsigned number of *s. */
static bool python_u64(char **s, uint64_t *v)
{
    char *end;

    while (**s == ' ')
        (*s)++;
    if (**s < '0' || **s > '9')
        return false;
    errno = 0;
    *v = strtoull(*s, &end, 10);
    if (errno || (*end && *end != ' '))
        return false;
    *s = end;
    return true;
}

/* The same for a signed one (a task's status, 0 or -errno). */
static bool python_i64(char **s, long long *v)
{
    char *end;

    while (**s == ' ')
        (*s)++;
    errno = 0;
    *v = strtoll(*s, &end, 10);
    if (errno || end == *s || (*end && *end != ' '))
        return false;
    *s = end;
    return true;
}

int python_facts_parse(const char *line, struct python_facts *f)
{
    unsigned long long hex;
    int gil, ft, n = 0;

    memset(f, 0, sizeof(*f));
    if (sscanf(line, "%llu %d %d %15s %n", &hex, &gil, &ft, f->impl, &n) < 4 ||
        n == 0)
        return -EPROTO;
    f->hexversion = hex;
    f->gil = gil != 0;
    f->free_threaded = ft != 0;
    conc_sanitize(f->version, sizeof(f->version), line + n);
    return 0;
}

/* "task I START END STATUS RESULT OPS BYTES E0..E5 ZEROS" */
static int python_task_line(struct conc_run *r, char *s, bool *seen)
{
    uint64_t i, v[5], e[CONC_ERR_KINDS], zeros;
    long long status;
    struct conc_task_out *o;

    if (!python_u64(&s, &i) || i >= r->tasks || seen[i] ||
        !python_u64(&s, &v[0]) || !python_u64(&s, &v[1]) ||
        !python_i64(&s, &status) || status > 0 || status < -4095 ||
        !python_u64(&s, &v[2]) || !python_u64(&s, &v[3]) ||
        !python_u64(&s, &v[4]))
        return -EPROTO;
    for (int k = 0; k < CONC_ERR_KINDS; k++)
        if (!python_u64(&s, &e[k]) || e[k] > UINT32_MAX)
            return -EPROTO;
    if (!python_u64(&s, &zeros) || *s)
        return -EPROTO;
    seen[i] = true;
    o = &r->out[i];
    o->start_ns = v[0];
    o->end_ns = v[1] > v[0] ? v[1] : v[0];
    o->status = (int)status;
    o->result = v[2];
    o->ops = v[3];
    o->bytes = v[4];
    for (int k = 0; k < CONC_ERR_KINDS; k++)
        o->errors[k] = (uint32_t)e[k];
    if (zeros && o->op_ns)
        conc_hist_add_n_atomic(o->op_ns, 0, zeros);
    return 0;
}

/* "ops I V V ..." */
static int python_ops_line(struct conc_run *r, char *s)
{
    uint64_t i, v;

    if (!python_u64(&s, &i) || i >= r->tasks)
        return -EPROTO;
    while (*s) {
        if (!python_u64(&s, &v))
            return -EPROTO;
        if (r->out[i].op_ns)
            conc_hist_add_atomic(r->out[i].op_ns, v);
    }
    return 0;
}

/* "run START WALL USER SYS RSS NVCSW NIVCSW" */
static int python_run_line(struct conc_run *r, char *s)
{
    struct conc_run_self *m = &r->self;

    if (!python_u64(&s, &m->start_ns) || !python_u64(&s, &m->wall_ns) ||
        !python_u64(&s, &m->user_ns) || !python_u64(&s, &m->sys_ns) ||
        !python_u64(&s, &m->max_rss_kib) ||
        !python_u64(&s, &m->ctxsw_voluntary) ||
        !python_u64(&s, &m->ctxsw_involuntary) || *s)
        return -EPROTO;
    m->set = true;
    return 0;
}

/* The facts as per-run numbers, and one line for the summary. */
static void python_facts_put(struct conc_run_self *m,
                             const struct python_facts *f)
{
    const char *impl = strcmp(f->impl, "cpython") == 0 ? "CPython"
                       : strcmp(f->impl, "pypy") == 0  ? "PyPy"
                                                       : f->impl;

    m->facts[0] = (struct conc_metric){ "python_hexversion",
                                        (double)f->hexversion };
    m->facts[1] = (struct conc_metric){ "python_gil", f->gil ? 1 : 0 };
    m->facts[2] = (struct conc_metric){ "python_free_threaded",
                                        f->free_threaded ? 1 : 0 };
    m->nfacts = 3;
    snprintf(m->note, sizeof(m->note), "Interpreter:         %.15s %.70s, GIL "
             "%s", impl, f->version, f->gil ? "on" : "off");
}

int python_report_parse(struct conc_run *r, char *text)
{
    bool *seen = conc_xcalloc(r->tasks ? r->tasks : 1, sizeof(*seen));
    bool ended = false, facts = false;
    unsigned lineno = 0, told = 0;
    char *line = text, *bad = NULL;
    int err = 0;

    r->self.set = false;
    while (*line && !ended && !err) {
        char *nl = strchr(line, '\n');
        struct python_facts f;

        if (nl)
            *nl = '\0';
        lineno++;
        if (strncmp(line, "task ", 5) == 0) {
            err = python_task_line(r, line + 5, seen);
            told += !err;
        } else if (strncmp(line, "ops ", 4) == 0) {
            err = python_ops_line(r, line + 4);
        } else if (strncmp(line, "run ", 4) == 0) {
            err = python_run_line(r, line + 4);
        } else if (strncmp(line, "python ", 7) == 0) {
            err = python_facts_parse(line + 7, &f);
            if (!err) {
                python_facts_put(&r->self, &f);
                facts = true;
            }
        } else if (strcmp(line, "end") == 0) {
            ended = true;
        } else {
            err = -EPROTO;
        }
        if (err)
            bad = line;
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(seen);
    if (err) {
        char shown[64];
        conc_sanitize(shown, sizeof(shown), bad);
        return conc_error_msg(-EPROTO, "the python script's answer does not "
                              "parse at line %u: '%s'", lineno, shown);
    }
    if (!ended || !r->self.set || !facts || told != r->tasks)
        return conc_error_msg(-EPROTO, "the python script's answer is "
                              "incomplete: %s", !ended ? "no end line"
                              : !r->self.set ? "no run line"
                              : !facts ? "no python line"
                                       : "a task is missing");
    return 0;
}
