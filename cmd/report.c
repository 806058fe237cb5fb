/*
 * The JSON report (docs/design.md "Report"), built with jansson. This is the
 * only file that includes jansson.h, so the report's shape lives in one place.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd/export.h"
#include "cmd/host.h"
#include "cmd/report.h"
#include "lib/err.h"
#include "version.h" /* generated: build facts */

struct conc_report {
    json_t *root, *results;
};

static json_t *report_u64(uint64_t v)
{
    /* json_int_t is long long: values past 2^63 (unlimited rlimits) would
       wrap, so they are written as -1, meaning unlimited. */
    return json_integer(v > (uint64_t)INT64_MAX ? -1 : (json_int_t)v);
}

static json_t *report_build(void)
{
    json_t *b = json_object();

    json_object_set_new(b, "cc", json_string(CONC_CC));
    json_object_set_new(b, "cflags", json_string(CONC_CFLAGS));
    json_object_set_new(b, "libuv", json_string(CONC_LIBUV_VERSION));
    json_object_set_new(b, "jansson", json_string(JANSSON_VERSION));
    json_object_set_new(b, "boost_context", json_string(CONC_BOOST_VERSION));
    json_object_set_new(b, "http_parser", json_string(CONC_HTTP_PARSER_VERSION));
    return b;
}

static json_t *report_host(void)
{
    struct conc_host h;
    json_t *o = json_object(), *load = json_array();

    conc_host_read(&h);
    json_object_set_new(o, "cpu_model", json_string(h.cpu_model));
    json_object_set_new(o, "cpus", json_integer(h.cpus_online));
    json_object_set_new(o, "cpus_allowed", json_integer(h.cpus_allowed));
    json_object_set_new(o, "smt", h.smt < 0 ? json_null() : json_boolean(h.smt));
    json_object_set_new(o, "cgroup_cpu_quota",
                        h.cgroup_cpu_quota > 0 ? json_real(h.cgroup_cpu_quota)
                                               : json_null());
    json_object_set_new(o, "governor",
                        h.governor[0] ? json_string(h.governor) : json_null());
    json_object_set_new(o, "mem_bytes", report_u64(h.mem_bytes));
    json_object_set_new(o, "kernel", json_string(h.kernel));
    for (int i = 0; i < 3; i++)
        json_array_append_new(load, json_real(h.loadavg[i]));
    json_object_set_new(o, "loadavg_start", load);
    json_object_set_new(o, "ulimit_nofile", report_u64(h.nofile_limit));
    json_object_set_new(o, "ulimit_nproc", report_u64(h.nproc_limit));
    json_object_set_new(o, "pid_max", report_u64(h.pid_max));
    json_object_set_new(o, "clock_res_ns", report_u64(h.clock_res_ns));
    return o;
}

struct conc_report *conc_report_new(int argc, char **argv)
{
    struct conc_report *rep = conc_xcalloc(1, sizeof(*rep));
    json_t *tool = json_object(), *args = json_array();
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    rep->root = json_object();
    rep->results = json_array();
    json_object_set_new(rep->root, "schema", json_string(CONC_SCHEMA));
    json_object_set_new(tool, "version", json_string(CONC_VERSION));
    json_object_set_new(tool, "build", report_build());
    json_object_set_new(rep->root, "concbench", tool);
    json_object_set_new(rep->root, "host", report_host());
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(rep->root, "started_at", json_string(stamp));
    json_array_append_new(args, json_string("concbench"));
    for (int i = 1; i < argc; i++)
        json_array_append_new(args, json_string(argv[i]));
    json_object_set_new(rep->root, "argv", args);
    json_object_set_new(rep->root, "results", rep->results);
    return rep;
}

void conc_report_set_u64(struct conc_report *rep, const char *key,
                         uint64_t value)
{
    json_object_set_new(rep->root, key, report_u64(value));
}

void conc_report_set_str(struct conc_report *rep, const char *key,
                         const char *value)
{
    json_object_set_new(rep->root, key, json_string(value));
}

/* Options as typed JSON: counts and sizes as integers, durations in ns. */
static json_t *report_options(const struct conc_params *p)
{
    json_t *o = json_object();

    for (int i = 0; p->opts && p->opts[i].key; i++) {
        const struct conc_opt *opt = &p->opts[i];
        const struct conc_val *v = &p->v[i];
        json_t *j;

        if (!v->present)
            continue;
        switch (opt->type) {
        case CONC_OPT_BOOL: j = json_string(v->u ? "on" : "off"); break;
        case CONC_OPT_CHOICE:
        case CONC_OPT_STRING: j = json_string(v->s); break;
        default: j = report_u64(v->u); break;
        }
        json_object_set_new(o, opt->key, j);
    }
    return o;
}

static json_t *report_pcts(const struct conc_pcts *p)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o}", "p50", report_u64(p->p50), "p75",
                     report_u64(p->p75), "p90", report_u64(p->p90), "p99",
                     report_u64(p->p99), "max", report_u64(p->max));
}

static json_t *report_run(const struct conc_workload *w,
                          const struct conc_run_stats *s)
{
    json_t *r = json_object(), *kinds = json_object();

    json_object_set_new(r, "wall_ns", report_u64(s->wall_ns));
    json_object_set_new(r, "user_ns", report_u64(s->user_ns));
    json_object_set_new(r, "sys_ns", report_u64(s->sys_ns));
    json_object_set_new(r, "max_rss_kib", report_u64(s->max_rss_kib));
    json_object_set_new(r, "ctxsw_voluntary", report_u64(s->ctxsw_voluntary));
    json_object_set_new(r, "ctxsw_involuntary",
                        report_u64(s->ctxsw_involuntary));
    json_object_set_new(r, "task_ns", report_pcts(&s->task_ns));
    if (w->op_name) {
        json_object_set_new(r, w->op_name, report_pcts(&s->op_ns));
        json_object_set_new(r, "op_count", report_u64(s->op_count));
    }
    json_object_set_new(r, "ops", report_u64(s->totals.ops));
    json_object_set_new(r, "bytes", report_u64(s->totals.bytes));
    json_object_set_new(r, "errors", report_u64(s->totals.errors));
    for (int k = 0; k < CONC_ERR_KINDS; k++)
        json_object_set_new(kinds, conc_err_kind_names[k],
                            report_u64(s->errors[k]));
    json_object_set_new(r, "errors_by_kind", kinds);
    json_object_set_new(r, "task_failures", json_integer(s->task_failures));
    json_object_set_new(r, "result", report_u64(s->totals.result));
    json_object_set_new(r, "result_ok", json_boolean(s->result_ok));
    json_object_set_new(r, "failed", json_boolean(s->failed));
    if (s->failed)
        json_object_set_new(r, "why", json_string(s->why));
    return r;
}

static json_t *report_summary(const struct conc_cell_result *res)
{
    const struct conc_summary *w = &res->wall;
    json_t *s = json_object();

    json_object_set_new(
        s, "wall_ns",
        json_pack("{s:f,s:f,s:f,s:f,s:f,s:[f,f],s:i}", "mean", w->mean,
                  "stddev", w->stddev, "median", w->median, "min", w->min,
                  "max", w->max, "ci95", w->ci95_lo, w->ci95_hi, "outliers",
                  (json_int_t)w->outliers));
    json_object_set_new(s, "runs_passed", json_integer((json_int_t)w->n));
    json_object_set_new(s, "runs_failed",
                        json_integer((json_int_t)(res->nruns - w->n)));
    return s;
}

void conc_report_add(struct conc_report *rep, const struct conc_cell *cell,
                     const struct conc_cell_result *res)
{
    json_t *o = json_object(), *runs = json_array();

    json_object_set_new(o, "model", json_string(cell->model->name));
    json_object_set_new(o, "model_options", report_options(&cell->mp));
    json_object_set_new(o, "workload", json_string(cell->workload->name));
    json_object_set_new(o, "workload_options", report_options(&cell->wp));
    json_object_set_new(o, "tasks", json_integer(cell->tasks));
    json_object_set_new(o, "warmup", json_integer(cell->warmup));
    if (res->skipped) {
        json_object_set_new(o, "skipped", json_string(res->skipped));
    } else {
        for (unsigned i = 0; i < res->nruns; i++)
            json_array_append_new(runs,
                                  report_run(cell->workload, &res->runs[i]));
        json_object_set_new(o, "runs", runs);
        json_object_set_new(o, "summary", report_summary(res));
        runs = NULL;
    }
    json_object_set_new(o, "failed", json_boolean(res->failed));
    if (runs)
        json_decref(runs);
    json_array_append_new(rep->results, o);
}

int conc_report_check_path(const char *path)
{
    struct stat st;
    char *tmp;
    int fd, err = 0;

    if (strcmp(path, "-") == 0)
        return 0;
    if (!*path)
        return conc_error_msg(-EINVAL, "empty path for --json");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return conc_error_msg(-EISDIR, "cannot write '%s': it is a directory",
                              path);
    /* Create the very temporary file the write will use: permission bits
       alone say nothing to root, and some file systems refuse new files. */
    tmp = conc_xmalloc(strlen(path) + 32);
    sprintf(tmp, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = conc_error(-errno, "cannot write '%s'", path);
    } else {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    return err;
}

int conc_report_write(struct conc_report *rep, const char *path)
{
    char *text = json_dumps(rep->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                     JSON_REAL_PRECISION(12));
    size_t len;
    int err;

    if (!text)
        return conc_error_msg(-ENOMEM, "cannot encode the report");
    len = strlen(text);
    text = conc_xrealloc(text, len + 2);
    text[len++] = '\n';
    text[len] = '\0';
    err = conc_write_atomic(path, text, len);
    free(text);
    return err;
}

void conc_report_free(struct conc_report *rep)
{
    if (!rep)
        return;
    json_decref(rep->root);
    free(rep);
}

/*
 * Reading reports back, for compare and merge. Every field compare or merge
 * relies on is type-checked, so a malformed, truncated or foreign file
 * fails with one line naming it and the field, never with a crash or a
 * silently wrong table.
 */
#define REPORT_MAX_BYTES (1ULL << 30)

struct report_ctx {
    const char *name; /* the file, for messages */
};

static int report_bad(const struct report_ctx *ctx, const char *where,
                      const char *what)
{
    return conc_error_msg(-EINVAL, "bad report '%s': %s: %s", ctx->name, where,
                          what);
}

static char *report_strdup_or(const json_t *j, const char *fallback)
{
    return conc_xstrdup(json_is_string(j) ? json_string_value(j) : fallback);
}

/* A JSON scalar as text: 5000000, on, 0.5, true. NULL for containers. */
static char *report_scalar_text(const json_t *j)
{
    char buf[64];

    switch (json_typeof(j)) {
    case JSON_STRING: return conc_xstrdup(json_string_value(j));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(j));
        return conc_xstrdup(buf);
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(j));
        return conc_xstrdup(buf);
    case JSON_TRUE: return conc_xstrdup("true");
    case JSON_FALSE: return conc_xstrdup("false");
    case JSON_NULL: return conc_xstrdup("null");
    default: return NULL;
    }
}

static void report_host_fini(struct conc_rhost *h)
{
    free(h->cpu_model);
    free(h->kernel);
    free(h->fingerprint);
}

static int report_read_host(const struct report_ctx *ctx, const char *where,
                            const json_t *o, struct conc_rhost *h)
{
    const json_t *cpu = json_object_get(o, "cpu_model"),
                 *cpus = json_object_get(o, "cpus"),
                 *mem = json_object_get(o, "mem_bytes"),
                 *kernel = json_object_get(o, "kernel");
    char buf[640];

    memset(h, 0, sizeof(*h));
    if (!json_is_object(o))
        return report_bad(ctx, where, "expected an object");
    if (!json_is_string(cpu) || !json_is_integer(cpus))
        return report_bad(ctx, where, "expected 'cpu_model' and 'cpus'");
    if ((mem && !json_is_integer(mem) && !json_is_null(mem)) ||
        (kernel && !json_is_string(kernel)))
        return report_bad(ctx, where, "'mem_bytes' or 'kernel' of the "
                                      "wrong type");
    h->cpu_model = report_strdup_or(cpu, "");
    h->kernel = report_strdup_or(kernel, "");
    h->cpus = json_integer_value(cpus);
    h->mem_bytes = json_is_integer(mem) ? json_integer_value(mem) : -1;
    snprintf(buf, sizeof(buf), "%s|%lld cpus|%lld bytes|%s", h->cpu_model,
             h->cpus, h->mem_bytes, h->kernel);
    h->fingerprint = conc_xstrdup(buf);
    return 0;
}

static void report_host_copy(struct conc_rhost *dst, const struct conc_rhost *src)
{
    dst->cpu_model = conc_xstrdup(src->cpu_model);
    dst->kernel = conc_xstrdup(src->kernel);
    dst->fingerprint = conc_xstrdup(src->fingerprint);
    dst->cpus = src->cpus;
    dst->mem_bytes = src->mem_bytes;
}

static int report_kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct conc_rkv *)a)->key,
                  ((const struct conc_rkv *)b)->key);
}

static int report_read_opts(const struct report_ctx *ctx, const char *where,
                            const json_t *o, struct conc_rkv **out, size_t *n)
{
    const char *key;
    json_t *v;
    size_t i = 0;

    *out = NULL;
    *n = 0;
    if (!json_is_object(o))
        return report_bad(ctx, where, "expected an object");
    *out = conc_xcalloc(json_object_size(o) + 1, sizeof(**out));
    json_object_foreach((json_t *)o, key, v) {
        char *text = report_scalar_text(v);
        if (!text) {
            *n = i;
            return report_bad(ctx, where, "an option value is not a scalar");
        }
        (*out)[i].key = conc_xstrdup(key);
        (*out)[i].val = text;
        i++;
    }
    *n = i;
    qsort(*out, i, sizeof(**out), report_kv_cmp);
    return 0;
}

static void report_kvs_free(struct conc_rkv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].val);
    }
    free(kv);
}

static void report_run_add(struct conc_rrun *r, size_t *cap, const char *name,
                           double value)
{
    if (r->nmetrics == *cap) {
        *cap = *cap ? 2 * *cap : 32;
        r->names = conc_xrealloc(r->names, *cap * sizeof(*r->names));
        r->values = conc_xrealloc(r->values, *cap * sizeof(*r->values));
    }
    r->names[r->nmetrics] = conc_xstrdup(name);
    r->values[r->nmetrics++] = value;
}

/*
 * A run: numbers become metrics by name, numbers one object down become
 * "object.key"; strings and booleans other than the verdict are ignored.
 */
static int report_read_run(const struct report_ctx *ctx, const char *where,
                           const json_t *o, struct conc_rrun *r)
{
    const json_t *failed = json_object_get(o, "failed"),
                 *ok = json_object_get(o, "result_ok"),
                 *wall = json_object_get(o, "wall_ns");
    const char *key, *sub;
    json_t *v, *w;
    size_t cap = 0;
    char name[256];

    memset(r, 0, sizeof(*r));
    if (!json_is_object(o))
        return report_bad(ctx, where, "expected an object");
    if (!json_is_number(wall))
        return report_bad(ctx, where, "'wall_ns' is missing or not a number");
    if ((failed && !json_is_boolean(failed)) || (ok && !json_is_boolean(ok)))
        return report_bad(ctx, where, "'failed' or 'result_ok' is not a "
                                      "boolean");
    r->failed = json_is_true(failed) || json_is_false(ok);
    json_object_foreach((json_t *)o, key, v) {
        if (json_is_number(v)) {
            report_run_add(r, &cap, key, json_number_value(v));
        } else if (json_is_object(v)) {
            json_object_foreach(v, sub, w) {
                if (!json_is_number(w))
                    continue;
                snprintf(name, sizeof(name), "%s.%s", key, sub);
                report_run_add(r, &cap, name, json_number_value(w));
            }
        }
    }
    return 0;
}

static void report_run_fini(struct conc_rrun *r)
{
    for (size_t i = 0; i < r->nmetrics; i++)
        free(r->names[i]);
    free(r->names);
    free(r->values);
}

static void report_cell_fini(struct conc_rcell *c)
{
    free(c->model);
    free(c->workload);
    report_kvs_free(c->mopts, c->nmopts);
    report_kvs_free(c->wopts, c->nwopts);
    free(c->id);
    report_host_fini(&c->host);
    free(c->skipped);
    for (size_t i = 0; i < c->nruns; i++)
        report_run_fini(&c->runs[i]);
    free(c->runs);
}

/* "model{k=v,...} workload{k=v,...} tasks=T": equal for the same cell. */
static char *report_cell_id(const struct conc_rcell *c)
{
    size_t len = strlen(c->model) + strlen(c->workload) + 64;
    char *id, *p;

    for (size_t i = 0; i < c->nmopts; i++)
        len += strlen(c->mopts[i].key) + strlen(c->mopts[i].val) + 2;
    for (size_t i = 0; i < c->nwopts; i++)
        len += strlen(c->wopts[i].key) + strlen(c->wopts[i].val) + 2;
    p = id = conc_xmalloc(len);
    p += sprintf(p, "%s{", c->model);
    for (size_t i = 0; i < c->nmopts; i++)
        p += sprintf(p, "%s%s=%s", i ? "," : "", c->mopts[i].key,
                     c->mopts[i].val);
    p += sprintf(p, "} %s{", c->workload);
    for (size_t i = 0; i < c->nwopts; i++)
        p += sprintf(p, "%s%s=%s", i ? "," : "", c->wopts[i].key,
                     c->wopts[i].val);
    sprintf(p, "} tasks=%llu", c->tasks);
    return id;
}

static int report_read_cell(const struct report_ctx *ctx, size_t index,
                            json_t *o, const struct conc_rhost *file_host,
                            struct conc_rcell *c)
{
    const json_t *model = json_object_get(o, "model"),
                 *workload = json_object_get(o, "workload"),
                 *tasks = json_object_get(o, "tasks"),
                 *runs = json_object_get(o, "runs"),
                 *failed = json_object_get(o, "failed"),
                 *skipped = json_object_get(o, "skipped"),
                 *host = json_object_get(o, "host");
    char where[96];
    int err;

    memset(c, 0, sizeof(*c));
    c->json = o;
    snprintf(where, sizeof(where), "results[%zu]", index);
    if (!json_is_object(o))
        return report_bad(ctx, where, "expected an object");
    if (!json_is_string(model) || !json_is_string(workload))
        return report_bad(ctx, where, "'model' or 'workload' is missing or "
                                      "not a string");
    if (!json_is_integer(tasks) || json_integer_value(tasks) < 1)
        return report_bad(ctx, where, "'tasks' is missing or not a positive "
                                      "integer");
    if ((failed && !json_is_boolean(failed)) ||
        (skipped && !json_is_string(skipped)))
        return report_bad(ctx, where, "'failed' or 'skipped' of the wrong "
                                      "type");
    c->model = conc_xstrdup(json_string_value(model));
    c->workload = conc_xstrdup(json_string_value(workload));
    c->tasks = (unsigned long long)json_integer_value(tasks);
    c->failed = json_is_true(failed);
    c->skipped = skipped ? conc_xstrdup(json_string_value(skipped)) : NULL;
    snprintf(where, sizeof(where), "results[%zu].model_options", index);
    if ((err = report_read_opts(ctx, where, json_object_get(o, "model_options"),
                                &c->mopts, &c->nmopts)))
        return err;
    snprintf(where, sizeof(where), "results[%zu].workload_options", index);
    if ((err = report_read_opts(ctx, where,
                                json_object_get(o, "workload_options"),
                                &c->wopts, &c->nwopts)))
        return err;
    c->id = report_cell_id(c);
    if (host) {
        snprintf(where, sizeof(where), "results[%zu].host", index);
        if ((err = report_read_host(ctx, where, host, &c->host)))
            return err;
        c->own_host = true;
    } else {
        report_host_copy(&c->host, file_host);
    }
    if (c->skipped && !runs)
        return 0;
    snprintf(where, sizeof(where), "results[%zu]", index);
    if (!json_is_array(runs))
        return report_bad(ctx, where, "'runs' is missing or not an array");
    c->runs = conc_xcalloc(json_array_size(runs) + 1, sizeof(*c->runs));
    for (size_t i = 0; i < json_array_size(runs); i++) {
        snprintf(where, sizeof(where), "results[%zu].runs[%zu]", index, i);
        err = report_read_run(ctx, where, json_array_get(runs, i),
                              &c->runs[i]);
        c->nruns = i + 1;
        if (err)
            return err;
    }
    return 0;
}

void conc_rfile_free(struct conc_rfile *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ncells; i++)
        report_cell_fini(&f->cells[i]);
    free(f->cells);
    report_host_fini(&f->host);
    free(f->path);
    free(f->version);
    free(f->started_at);
    json_decref(f->root);
    free(f);
}

int conc_report_parse(const char *name, const char *text, size_t len,
                      struct conc_rfile **out)
{
    struct report_ctx ctx = { name };
    struct conc_rfile *f;
    json_error_t jerr;
    json_t *root, *schema, *results, *tool;
    int err;

    *out = NULL;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return conc_error_msg(-EINVAL, "cannot parse '%s': %s (line %d, "
                              "column %d)", name, jerr.text, jerr.line,
                              jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return conc_error_msg(-EINVAL, "'%s' is not a concbench report (not "
                              "a JSON object)", name);
    }
    schema = json_object_get(root, "schema");
    if (!json_is_string(schema)) {
        json_decref(root);
        return conc_error_msg(-EINVAL, "'%s' is not a concbench report (no "
                              "'schema')", name);
    }
    if (strcmp(json_string_value(schema), CONC_SCHEMA) != 0) {
        err = conc_error_msg(-EPROTO, "'%s' has schema '%s'; this concbench "
                             "reads '%s'", name, json_string_value(schema),
                             CONC_SCHEMA);
        json_decref(root);
        return err;
    }
    f = conc_xcalloc(1, sizeof(*f));
    f->root = root;
    f->path = conc_xstrdup(name);
    tool = json_object_get(root, "concbench");
    f->version = report_strdup_or(json_object_get(tool, "version"), "");
    f->started_at = report_strdup_or(json_object_get(root, "started_at"), "");
    if ((err = report_read_host(&ctx, "host", json_object_get(root, "host"),
                                &f->host)))
        goto fail;
    results = json_object_get(root, "results");
    if (!json_is_array(results)) {
        err = report_bad(&ctx, "results", "missing or not an array");
        goto fail;
    }
    f->cells = conc_xcalloc(json_array_size(results) + 1, sizeof(*f->cells));
    for (size_t i = 0; i < json_array_size(results); i++) {
        err = report_read_cell(&ctx, i, json_array_get(results, i), &f->host,
                               &f->cells[i]);
        f->ncells = i + 1;
        if (err)
            goto fail;
    }
    *out = f;
    return 0;
fail:
    conc_rfile_free(f);
    return err;
}

int conc_report_load(const char *path, struct conc_rfile **out)
{
    FILE *fp;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    int err;

    *out = NULL;
    if (!(fp = fopen(path, "rb")))
        return conc_error(-errno, "cannot read '%s'", path);
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            buf = conc_xrealloc(buf, cap);
        }
        n = fread(buf + len, 1, cap - len, fp);
        len += n;
    } while (n > 0 && len <= REPORT_MAX_BYTES);
    if (ferror(fp)) {
        err = conc_error(-(errno ? errno : EIO), "cannot read '%s'", path);
        goto out;
    }
    if (len > REPORT_MAX_BYTES) {
        err = conc_error_msg(-EFBIG, "cannot read '%s': larger than 1 GiB",
                             path);
        goto out;
    }
    err = conc_report_parse(path, buf, len, out);
out:
    fclose(fp);
    free(buf);
    return err;
}

double conc_rrun_metric(const struct conc_rrun *run, const char *metric)
{
    for (size_t i = 0; i < run->nmetrics; i++)
        if (strcmp(run->names[i], metric) == 0)
            return run->values[i];
    return NAN;
}

struct conc_report *conc_report_merge_new(const struct conc_rfile *first,
                                          int argc, char **argv)
{
    struct conc_report *rep = conc_xcalloc(1, sizeof(*rep));
    json_t *args = json_array();

    rep->root = json_deep_copy(first->root);
    rep->results = json_array();
    json_object_set_new(rep->root, "results", rep->results);
    json_array_append_new(args, json_string("concbench"));
    for (int i = 0; i < argc; i++)
        json_array_append_new(args, json_string(argv[i]));
    json_object_set_new(rep->root, "argv", args);
    json_object_set_new(rep->root, "merged_from", json_array());
    return rep;
}

void conc_report_merge_add(struct conc_report *rep, const struct conc_rfile *src,
                           size_t i, bool with_host)
{
    const struct conc_rcell *c = &src->cells[i];
    json_t *o = json_deep_copy(c->json);

    if (with_host && !c->own_host)
        json_object_set(o, "host", json_object_get(src->root, "host"));
    json_array_append_new(rep->results, o);
}

void conc_report_merge_join(struct conc_report *rep, size_t at,
                            const struct conc_rfile *src, size_t i)
{
    json_t *o = json_array_get(rep->results, at), *runs, *r, *w;
    const json_t *add = json_object_get(src->cells[i].json, "runs");
    double *x;
    size_t n = 0, k;
    struct conc_summary s;

    runs = json_object_get(o, "runs");
    if (!json_is_array(runs)) {
        runs = json_array();
        json_object_set_new(o, "runs", runs);
    }
    json_array_foreach(add, k, r)
        json_array_append_new(runs, json_deep_copy(r));
    if (src->cells[i].failed)
        json_object_set_new(o, "failed", json_true());
    /* The summary over the passed runs, as the cell runner writes it. */
    x = conc_xmalloc((json_array_size(runs) + 1) * sizeof(*x));
    json_array_foreach(runs, k, r) {
        w = json_object_get(r, "wall_ns");
        if (!json_is_true(json_object_get(r, "failed")) &&
            !json_is_false(json_object_get(r, "result_ok")) &&
            json_is_number(w))
            x[n++] = json_number_value(w);
    }
    conc_summarize(x, n, &s);
    free(x);
    json_object_set_new(
        o, "summary",
        json_pack("{s:{s:f,s:f,s:f,s:f,s:f,s:[f,f],s:I},s:I,s:I}", "wall_ns",
                  "mean", s.mean, "stddev", s.stddev, "median", s.median,
                  "min", s.min, "max", s.max, "ci95", s.ci95_lo, s.ci95_hi,
                  "outliers", (json_int_t)s.outliers, "runs_passed",
                  (json_int_t)n, "runs_failed",
                  (json_int_t)(json_array_size(runs) - n)));
}

void conc_report_merge_source(struct conc_report *rep,
                              const struct conc_rfile *src, size_t ncells)
{
    json_t *from = json_object_get(rep->root, "merged_from"),
           *earlier = json_object_get(src->root, "merged_from");

    /* A merged input contributes its own sources, so merges compose. */
    if (json_is_array(earlier) && json_array_size(earlier) > 0) {
        json_array_extend(from, earlier);
        return;
    }
    json_array_append_new(
        from, json_pack("{s:s,s:s,s:s,s:O,s:O,s:I}", "file", src->path,
                        "started_at", src->started_at, "version",
                        src->version, "host",
                        json_object_get(src->root, "host"), "argv",
                        json_object_get(src->root, "argv") ?
                            json_object_get(src->root, "argv") : json_null(),
                        "cells", (json_int_t)ncells));
}

/* A finite number, or null: JSON has no NaN or infinity. */
static json_t *report_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *report_rcell_key(const struct conc_rcell *c, const char *label)
{
    const json_t *o = c->json;

    return json_pack("{s:s,s:s,s:O,s:s,s:O,s:I,s:s}", "label", label, "model",
                     c->model, "model_options",
                     json_object_get(o, "model_options"), "workload",
                     c->workload, "workload_options",
                     json_object_get(o, "workload_options"), "tasks",
                     (json_int_t)c->tasks, "host", c->host.fingerprint);
}

static int report_dump_stdout(json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                     JSON_REAL_PRECISION(12));
    size_t len;
    int err;

    json_decref(doc);
    if (!text)
        return conc_error_msg(-ENOMEM, "cannot encode the comparison");
    len = strlen(text);
    text = conc_xrealloc(text, len + 2);
    text[len++] = '\n';
    err = conc_write_atomic("-", text, len);
    free(text);
    return err;
}

int conc_report_compare_json(const struct conc_cmp *c)
{
    json_t *doc = json_object(), *rows = json_array(), *ob = json_array(),
           *on = json_array();

    json_object_set_new(doc, "schema", json_string("concbench-compare/1"));
    json_object_set_new(doc, "metric", json_string(c->metric));
    json_object_set_new(doc, "unit", json_string(c->unit));
    json_object_set_new(doc, "threshold_pct", json_real(c->threshold_pct));
    json_object_set_new(doc, "alpha", json_real(c->alpha));
    json_object_set_new(doc, "base", json_string(c->base_path));
    json_object_set_new(doc, "new", json_string(c->new_path));
    json_object_set_new(doc, "regressions",
                        json_integer((json_int_t)c->regressions));
    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];
        json_t *o = report_rcell_key(r->new, r->label);

        json_object_set_new(o, "base", json_pack("{s:I,s:I,s:o}", "runs",
                            (json_int_t)r->n_base, "failed_runs",
                            (json_int_t)r->failed_base, "median",
                            report_num(r->median_base)));
        json_object_set_new(o, "new", json_pack("{s:I,s:I,s:o}", "runs",
                            (json_int_t)r->n_new, "failed_runs",
                            (json_int_t)r->failed_new, "median",
                            report_num(r->median_new)));
        json_object_set_new(o, "change_pct", report_num(r->change_pct));
        json_object_set_new(o, "ci95_pct",
                            json_pack("[o,o]", report_num(r->ci_lo_pct),
                                      report_num(r->ci_hi_pct)));
        json_object_set_new(o, "p", report_num(r->p));
        json_object_set_new(o, "min_p", report_num(r->min_p));
        json_object_set_new(o, "verdict", json_string(r->verdict));
        json_object_set_new(o, "note", json_string(r->note));
        json_array_append_new(rows, o);
    }
    json_object_set_new(doc, "cells", rows);
    for (size_t i = 0; i < c->nonly_base; i++)
        json_array_append_new(ob, report_rcell_key(c->only_base[i],
                                                   c->only_base_labels[i]));
    for (size_t i = 0; i < c->nonly_new; i++)
        json_array_append_new(on, report_rcell_key(c->only_new[i],
                                                   c->only_new_labels[i]));
    json_object_set_new(doc, "only_in_base", ob);
    json_object_set_new(doc, "only_in_new", on);
    return report_dump_stdout(doc);
}

int conc_report_benchmark_json(const struct conc_cmp *c)
{
    json_t *doc = json_array();
    char name[512], range[64], extra[256];

    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];

        if (!isfinite(r->median_new))
            continue; /* every new run failed: nothing to chart */
        snprintf(name, sizeof(name), "%s (%s)", r->label, c->metric);
        /* The spread of the new runs: half the distance min..max would
           hide outliers, so the range is the median absolute deviation. */
        snprintf(range, sizeof(range), "\xc2\xb1 %.6g", r->mad_new);
        snprintf(extra, sizeof(extra), "%zu runs; vs base %+.2f%% (p=%.3g, "
                 "%s)", r->n_new, r->change_pct, r->p, r->verdict);
        json_array_append_new(doc, json_pack("{s:s,s:s,s:f,s:s,s:s}", "name",
                                             name, "unit", c->unit, "value",
                                             r->median_new, "range", range,
                                             "extra", extra));
    }
    return report_dump_stdout(doc);
}
