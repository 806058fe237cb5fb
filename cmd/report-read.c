/*
 * Reading reports back, for compare and merge. Every field compare or merge
 * relies on is type-checked, so a malformed, truncated or foreign file
 * fails with one line naming it and the field, never with a crash or a
 * silently wrong table.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/registry.h"
#include "cmd/report-internal.h"
#include "cmd/report.h"
#include "lib/err.h"
#include "lib/interrupt.h"

/*
 * The largest report read: 64 MiB is a sweep of about 12,000 cells of 5
 * runs. Parsed, JSON takes several times its text in memory, so jansson's
 * allocations are capped too (REPORT_MAX_HEAP), and a hostile file fails
 * with a message instead of exhausting memory.
 */
#define REPORT_MAX_BYTES ((size_t)64 << 20)
#define REPORT_MAX_HEAP ((size_t)1 << 30)

/*
 * Bytes jansson allocated during the load under way (frees not counted:
 * a parse only grows), and whether the cap was hit. Counting only while
 * report_heap_on, with plain malloc and free underneath, so memory jansson
 * hands out (json_dumps' text) stays free()-able as its manual says.
 */
static size_t report_heap;
static bool report_heap_on, report_heap_full;

static void *report_malloc(size_t n)
{
    if (report_heap_on) {
        if (n > REPORT_MAX_HEAP - report_heap) {
            report_heap_full = true;
            return NULL;
        }
        report_heap += n;
    }
    return malloc(n);
}

static void report_free(void *p)
{
    free(p);
}

/* Installs the counting allocator before jansson's first allocation. */
static void report_heap_init(void)
{
    static bool done;

    if (!done) {
        json_set_alloc_funcs(report_malloc, report_free);
        done = true;
    }
}

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

static void report_host_copy(struct conc_rhost *dst,
                             const struct conc_rhost *src)
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

/* The option table of model (models) or workload name, or NULL. */
static const struct conc_opt *report_table(const char *name, bool models)
{
    if (models) {
        const struct conc_model *m = name ? conc_model_find(name) : NULL;
        return m ? m->opts : NULL;
    }
    const struct conc_workload *w = name ? conc_workload_find(name) : NULL;
    return w ? w->opts : NULL;
}

/*
 * The option a concbench/2 key names: a duration's "ms_ns" is "ms". With
 * no table (a model or workload this build does not know), any "_ns" is
 * taken off, as only durations carry it. Into buf; returns buf.
 */
static const char *report_opt_name(const char *key,
                                   const struct conc_opt *table, char *buf,
                                   size_t len)
{
    size_t n = strlen(key);

    snprintf(buf, len, "%s", key);
    if (n <= 3 || strcmp(key + n - 3, "_ns") != 0 || n - 3 >= len)
        return buf;
    buf[n - 3] = '\0';
    for (size_t i = 0; table && table[i].key; i++)
        if (strcmp(table[i].key, buf) == 0 &&
            table[i].type == CONC_OPT_DURATION)
            return buf;
    if (table)
        snprintf(buf, len, "%s", key);
    return buf;
}

static int report_read_opts(const struct report_ctx *ctx, const char *where,
                            const json_t *o, const struct conc_opt *table,
                            struct conc_rkv **out, size_t *n)
{
    const char *key;
    json_t *v;
    size_t i = 0;
    char name[256];

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
        (*out)[i].key = conc_xstrdup(report_opt_name(key, table, name,
                                                     sizeof(name)));
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

/* Refuses a run field below zero, naming it and the value. */
static int report_run_negative(const struct report_ctx *ctx, const char *where,
                               const char *key, const char *sub,
                               const json_t *v)
{
    char what[320];

    snprintf(what, sizeof(what), "'%s%s%s' is %g: a measurement is never "
             "negative", key, sub ? "." : "", sub ? sub : "",
             json_number_value(v));
    return report_bad(ctx, where, what);
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
    r->disturbed = json_array_size(json_object_get(o, "disturbed")) > 0;
    /* Every measurement is a count, a size or a time: none is negative,
       and a run took some time. */
    if (!(json_number_value(wall) > 0) || !isfinite(json_number_value(wall)))
        return report_bad(ctx, where, "'wall_ns' is not a positive time");
    json_object_foreach((json_t *)o, key, v) {
        if (json_is_number(v)) {
            if (!(json_number_value(v) >= 0))
                return report_run_negative(ctx, where, key, NULL, v);
            report_run_add(r, &cap, key, json_number_value(v));
        } else if (json_is_object(v)) {
            json_object_foreach(v, sub, w) {
                if (!json_is_number(w))
                    continue;
                if (!(json_number_value(w) >= 0))
                    return report_run_negative(ctx, where, key, sub, w);
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
                                report_table(c->model, true), &c->mopts,
                                &c->nmopts)))
        return err;
    snprintf(where, sizeof(where), "results[%zu].workload_options", index);
    if ((err = report_read_opts(ctx, where,
                                json_object_get(o, "workload_options"),
                                report_table(c->workload, false), &c->wopts,
                                &c->nwopts)))
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

char *report_result_id(const json_t *o)
{
    const struct report_ctx ctx = { "the report being written" };
    const json_t *model = json_object_get(o, "model"),
                 *workload = json_object_get(o, "workload"),
                 *tasks = json_object_get(o, "tasks");
    struct conc_rcell c;
    char *id = NULL;

    memset(&c, 0, sizeof(c));
    if (!json_is_string(model) || !json_is_string(workload) ||
        !json_is_integer(tasks))
        return NULL;
    c.model = conc_xstrdup(json_string_value(model));
    c.workload = conc_xstrdup(json_string_value(workload));
    c.tasks = (unsigned long long)json_integer_value(tasks);
    if (!report_read_opts(&ctx, "model_options",
                          json_object_get(o, "model_options"),
                          report_table(c.model, true), &c.mopts,
                          &c.nmopts) &&
        !report_read_opts(&ctx, "workload_options",
                          json_object_get(o, "workload_options"),
                          report_table(c.workload, false), &c.wopts,
                          &c.nwopts))
        id = report_cell_id(&c);
    report_cell_fini(&c);
    return id;
}

static void report_plan_free(struct conc_rplan *p)
{
    if (!p)
        return;
    free(p->hash);
    free(p->shards);
    for (size_t i = 0; i < p->ncells; i++)
        free(p->cells[i]);
    free(p->cells);
    for (size_t i = 0; i < p->nplan; i++)
        free(p->plan_ids[i]);
    free(p->plan_ids);
    free(p->plan_shard);
    free(p);
}

static int report_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The manifest's shards: "k" (a shard's) or "shards" (a merge's). */
static int report_read_shards(const struct report_ctx *ctx, const json_t *o,
                              struct conc_rplan *p)
{
    const json_t *k = json_object_get(o, "k"),
                 *shards = json_object_get(o, "shards"), *v;
    size_t i;

    if (!k == !shards)
        return report_bad(ctx, "shard_manifest", "expected one of 'k' and "
                                                 "'shards'");
    if (k) {
        if (!json_is_integer(k) || json_integer_value(k) < 1 ||
            json_integer_value(k) > p->n)
            return report_bad(ctx, "shard_manifest", "'k' is not 1 to 'n'");
        p->shards = conc_xcalloc(1, sizeof(*p->shards));
        p->shards[p->nshards++] = (unsigned)json_integer_value(k);
        return 0;
    }
    if (!json_is_array(shards) || json_array_size(shards) > p->n)
        return report_bad(ctx, "shard_manifest", "'shards' is not an array "
                                                 "of at most 'n' shards");
    p->shards = conc_xcalloc(json_array_size(shards) + 1, sizeof(*p->shards));
    json_array_foreach(shards, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > p->n ||
            (i && json_integer_value(v) <= p->shards[i - 1]))
            return report_bad(ctx, "shard_manifest", "'shards' is not "
                                                     "ascending, each 1 to "
                                                     "'n'");
        p->shards[p->nshards++] = (unsigned)json_integer_value(v);
    }
    return 0;
}

/* "plan_cells": every cell of the plan, {"id", "shard"}, each id once. */
static int report_read_plan_cells(const struct report_ctx *ctx,
                                  const json_t *all, struct conc_rplan *p)
{
    const json_t *v;
    char **sorted;
    size_t i;
    int err = 0;

    if (!json_is_array(all))
        return report_bad(ctx, "shard_manifest", "'plan_cells' is missing or "
                                                 "not an array");
    p->plan_ids = conc_xcalloc(json_array_size(all) + 1,
                               sizeof(*p->plan_ids));
    p->plan_shard = conc_xcalloc(json_array_size(all) + 1,
                                 sizeof(*p->plan_shard));
    json_array_foreach(all, i, v) {
        const json_t *id = json_object_get(v, "id"),
                     *k = json_object_get(v, "shard");

        if (!json_is_string(id) || !json_is_integer(k) ||
            json_integer_value(k) < 1 || json_integer_value(k) > p->n)
            return report_bad(ctx, "shard_manifest", "a cell of 'plan_cells' "
                                                     "is not {\"id\": string, "
                                                     "\"shard\": 1 to 'n'}");
        p->plan_ids[p->nplan] = conc_xstrdup(json_string_value(id));
        p->plan_shard[p->nplan++] = (unsigned)json_integer_value(k);
    }
    sorted = conc_xcalloc(p->nplan + 1, sizeof(*sorted));
    memcpy(sorted, p->plan_ids, p->nplan * sizeof(*sorted));
    qsort(sorted, p->nplan, sizeof(*sorted), report_strp_cmp);
    for (i = 1; i < p->nplan && !err; i++)
        if (strcmp(sorted[i], sorted[i - 1]) == 0)
            err = conc_error_msg(-EINVAL, "bad report '%s': shard_manifest: "
                                 "cell '%s' is in 'plan_cells' twice",
                                 ctx->name, sorted[i]);
    free(sorted);
    return err;
}

/* A plan cell and its shard, to look an id up in. */
struct report_pcell {
    const char *id;
    unsigned shard;
};

static int report_pcell_cmp(const void *a, const void *b)
{
    return strcmp(((const struct report_pcell *)a)->id,
                  ((const struct report_pcell *)b)->id);
}

/*
 * Checks that the manifest describes its report: each cell it holds is
 * listed once, among the results, and a cell of the plan in one of the
 * report's shards. A manifest that does not would make merge's account of
 * the plan wrong.
 */
static int report_check_plan_cells(const struct report_ctx *ctx,
                                   const struct conc_rfile *f)
{
    const struct conc_rplan *p = f->plan;
    struct report_pcell *plan;
    char **mine, **ids;
    int err = 0;

    plan = conc_xcalloc(p->nplan + 1, sizeof(*plan));
    for (size_t i = 0; i < p->nplan; i++)
        plan[i] = (struct report_pcell){ p->plan_ids[i], p->plan_shard[i] };
    qsort(plan, p->nplan, sizeof(*plan), report_pcell_cmp);
    mine = conc_xcalloc(p->ncells + 1, sizeof(*mine));
    ids = conc_xcalloc(f->ncells + 1, sizeof(*ids));
    memcpy(mine, p->cells, p->ncells * sizeof(*mine));
    for (size_t i = 0; i < f->ncells; i++)
        ids[i] = f->cells[i].id;
    qsort(mine, p->ncells, sizeof(*mine), report_strp_cmp);
    qsort(ids, f->ncells, sizeof(*ids), report_strp_cmp);
    for (size_t i = 0; i < p->ncells && !err; i++) {
        struct report_pcell key = { mine[i], 0 }, *in;
        bool held = false;

        in = bsearch(&key, plan, p->nplan, sizeof(*plan), report_pcell_cmp);
        for (size_t s = 0; in && s < p->nshards; s++)
            held |= p->shards[s] == in->shard;
        if (i && strcmp(mine[i], mine[i - 1]) == 0)
            err = conc_error_msg(-EINVAL, "bad report '%s': shard_manifest: "
                                 "cell '%s' is listed twice", ctx->name,
                                 mine[i]);
        else if (!bsearch(&mine[i], ids, f->ncells, sizeof(*ids),
                          report_strp_cmp))
            err = conc_error_msg(-EINVAL, "bad report '%s': shard_manifest: "
                                 "cell '%s' is not among the results",
                                 ctx->name, mine[i]);
        else if (!in)
            err = conc_error_msg(-EINVAL, "bad report '%s': shard_manifest: "
                                 "cell '%s' is not in 'plan_cells'",
                                 ctx->name, mine[i]);
        else if (!held)
            err = conc_error_msg(-EINVAL, "bad report '%s': shard_manifest: "
                                 "cell '%s' belongs to shard %u, which the "
                                 "report does not hold", ctx->name, mine[i],
                                 in->shard);
    }
    free(plan);
    free(mine);
    free(ids);
    return err;
}

/* "shard_manifest" into f->plan, checked against f's results. */
static int report_read_plan(const struct report_ctx *ctx, const json_t *o,
                            struct conc_rfile *f)
{
    const json_t *hash = json_object_get(o, "plan"),
                 *n = json_object_get(o, "n"),
                 *cells = json_object_get(o, "cells"), *v;
    struct conc_rplan *p;
    size_t i;
    int err;

    if (!json_is_object(o))
        return report_bad(ctx, "shard_manifest", "expected an object");
    /* Hex digits only: the hash is printed as it is. */
    if (!json_is_string(hash) || !json_string_length(hash) ||
        json_string_length(hash) > 64 ||
        strspn(json_string_value(hash), "0123456789abcdef") !=
            json_string_length(hash))
        return report_bad(ctx, "shard_manifest", "'plan' is not a hash (1 to "
                                                 "64 hex digits)");
    /* At most the cells a sweep may have, so merge's table of shards
       stays small whatever the file says. */
    if (!json_is_integer(n) || json_integer_value(n) < 1 ||
        json_integer_value(n) > 1000000)
        return report_bad(ctx, "shard_manifest", "'n' is missing or not 1 to "
                                                 "1000000");
    if (!json_is_array(cells))
        return report_bad(ctx, "shard_manifest", "'cells' is missing or not "
                                                 "an array");
    p = f->plan = conc_xcalloc(1, sizeof(*p));
    p->hash = conc_xstrdup(json_string_value(hash));
    p->n = (unsigned)json_integer_value(n);
    if ((err = report_read_shards(ctx, o, p)) ||
        (err = report_read_plan_cells(ctx, json_object_get(o, "plan_cells"),
                                      p)))
        return err;
    p->cells = conc_xcalloc(json_array_size(cells) + 1, sizeof(*p->cells));
    json_array_foreach(cells, i, v) {
        if (!json_is_string(v))
            return report_bad(ctx, "shard_manifest", "a cell of 'cells' is "
                                                     "not a string");
        p->cells[p->ncells++] = conc_xstrdup(json_string_value(v));
    }
    return report_check_plan_cells(ctx, f);
}

void conc_rfile_free(struct conc_rfile *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ncells; i++)
        report_cell_fini(&f->cells[i]);
    free(f->cells);
    report_plan_free(f->plan);
    report_host_fini(&f->host);
    free(f->path);
    free(f->version);
    free(f->started_at);
    json_decref(f->root);
    free(f);
}

/*
 * Renames the duration options of a concbench/1 object of options to
 * their concbench/2 keys ("ms" to "ms_ns"), by the option table.
 */
static void report_upgrade_opts(json_t *o, const struct conc_opt *table)
{
    char key[80];

    if (!json_is_object(o))
        return;
    for (size_t i = 0; table && table[i].key; i++) {
        json_t *v = json_object_get(o, table[i].key);
        if (!v || table[i].type != CONC_OPT_DURATION)
            continue;
        snprintf(key, sizeof(key), "%s_ns", table[i].key);
        if (!json_object_get(o, key))
            json_object_set(o, key, v);
        json_object_del(o, table[i].key);
    }
}

/*
 * A concbench/1 document read as concbench/2: its results' duration
 * options renamed, and its schema said to be /2, so that compare matches
 * its cells with a new report's and merge writes one schema. What is
 * not an object stays for the checks that follow to refuse.
 */
static void report_upgrade_v1(json_t *root)
{
    json_t *results = json_object_get(root, "results"), *r;
    size_t i;

    json_array_foreach(results, i, r) {
        const json_t *m = json_object_get(r, "model"),
                     *w = json_object_get(r, "workload");
        report_upgrade_opts(json_object_get(r, "model_options"),
                            report_table(json_string_value(m), true));
        report_upgrade_opts(json_object_get(r, "workload_options"),
                            report_table(json_string_value(w), false));
    }
    json_object_set_new(root, "schema", json_string(CONC_SCHEMA));
}

/* The report in root (owned by the result from here on, freed on error). */
static int report_from_root(const char *name, json_t *root,
                            struct conc_rfile **out)
{
    struct report_ctx ctx = { name };
    struct conc_rfile *f;
    json_t *schema, *results, *tool;
    int err;

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
    if (strcmp(json_string_value(schema), CONC_SCHEMA) != 0 &&
        strcmp(json_string_value(schema), CONC_SCHEMA_V1) != 0) {
        err = conc_error_msg(-EPROTO, "'%s' has schema '%s'; this concbench "
                             "reads '%s' and '%s'", name,
                             json_string_value(schema), CONC_SCHEMA,
                             CONC_SCHEMA_V1);
        json_decref(root);
        return err;
    }
    if (strcmp(json_string_value(schema), CONC_SCHEMA_V1) == 0)
        report_upgrade_v1(root);
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
        /* A report of a million cells takes a while: stay interruptible. */
        if (conc_interrupted) {
            err = -EINTR;
            goto fail;
        }
        err = report_read_cell(&ctx, i, json_array_get(results, i), &f->host,
                               &f->cells[i]);
        f->ncells = i + 1;
        if (err)
            goto fail;
    }
    if (json_object_get(root, "shard_manifest") &&
        (err = report_read_plan(&ctx, json_object_get(root, "shard_manifest"),
                                f)))
        goto fail;
    *out = f;
    return 0;
fail:
    conc_rfile_free(f);
    return err;
}

int conc_report_parse(const char *name, const char *text, size_t len,
                      struct conc_rfile **out)
{
    json_error_t jerr;
    json_t *root;

    *out = NULL;
    report_heap_init();
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return conc_error_msg(-EINVAL, "cannot parse '%s': %s (line %d, "
                              "column %d)", name, jerr.text, jerr.line,
                              jerr.column);
    return report_from_root(name, root, out);
}

/* The file being streamed into jansson, with its limits. */
struct report_src {
    FILE *fp;
    size_t read;
    int err; /* why the callback stopped: -EFBIG, -EINTR or -errno */
};

/*
 * jansson's reader callback: hands over the file a chunk at a time, so
 * the parse fails at the first byte that is not JSON (an endless
 * /dev/zero ends at once), no more than REPORT_MAX_BYTES is ever read,
 * and SIGINT stops it between chunks.
 */
static size_t report_src_read(void *buf, size_t len, void *arg)
{
    struct report_src *src = arg;
    size_t n;

    if (conc_interrupted) {
        src->err = -EINTR;
        return (size_t)-1;
    }
    if (src->read >= REPORT_MAX_BYTES) {
        /* One byte past the limit says the file is larger. */
        if (fgetc(src->fp) == EOF)
            return 0;
        src->err = -EFBIG;
        return (size_t)-1;
    }
    if (len > REPORT_MAX_BYTES - src->read)
        len = REPORT_MAX_BYTES - src->read;
    n = fread(buf, 1, len, src->fp);
    if (n == 0 && ferror(src->fp)) {
        src->err = -(errno ? errno : EIO);
        return (size_t)-1;
    }
    src->read += n;
    return n;
}

int conc_report_load(const char *path, struct conc_rfile **out)
{
    struct report_src src = { NULL, 0, 0 };
    json_error_t jerr;
    json_t *root;
    int err;

    *out = NULL;
    report_heap_init();
    if (!(src.fp = fopen(path, "rbe")))
        return conc_error(-errno, "cannot read '%s'", path);
    report_heap = 0;
    report_heap_full = false;
    report_heap_on = true;
    root = json_load_callback(report_src_read, &src, JSON_REJECT_DUPLICATES,
                              &jerr);
    report_heap_on = false;
    fclose(src.fp);
    if (!root) {
        if (src.err == -EINTR)
            return -EINTR;
        if (src.err == -EFBIG)
            return conc_error_msg(-EFBIG, "cannot read '%s': larger than "
                                  "64 MiB", path);
        if (report_heap_full)
            return conc_error_msg(-ENOMEM, "cannot read '%s': it needs over "
                                  "1 GiB of memory parsed", path);
        if (src.err)
            return conc_error(src.err, "cannot read '%s'", path);
        return conc_error_msg(-EINVAL, "cannot parse '%s': %s (line %d, "
                              "column %d)", path, jerr.text, jerr.line,
                              jerr.column);
    }
    err = report_from_root(path, root, out);
    return err;
}

double conc_rrun_metric(const struct conc_rrun *run, const char *metric)
{
    for (size_t i = 0; i < run->nmetrics; i++)
        if (strcmp(run->names[i], metric) == 0)
            return run->values[i];
    return NAN;
}
