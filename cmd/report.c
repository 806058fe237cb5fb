/*
 * Writing the JSON report (docs/report.md) with jansson: a run's or a
 * sweep's results, stamped with the build and the host.
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
#include "cmd/mix.h"
#include "cmd/paired.h"
#include "cmd/report-internal.h"
#include "cmd/report.h"
#include "lib/err.h"
#include "lib/proc.h"
#include "version.h" /* generated: build facts */

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
    json_object_set_new(b, "liburing", json_string(CONC_URING_VERSION));
    json_object_set_new(b, "http_parser",
                        json_string(CONC_HTTP_PARSER_VERSION));
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
    json_object_set_new(o, "smt",
                        h.smt < 0 ? json_null() : json_boolean(h.smt));
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
    json_object_set_new(o, "usable_cpus", json_real(h.usable_cpus));
    json_object_set_new(o, "clocksource", h.clocksource[0]
                                              ? json_string(h.clocksource)
                                              : json_null());
    json_object_set_new(o, "boost", h.boost < 0 ? json_null()
                                                : json_boolean(h.boost));
    json_object_set_new(o, "virtualization",
                        json_pack("{s:b,s:o,s:o}", "hypervisor",
                                  h.hypervisor,
                                  "product", h.virt[0] ? json_string(h.virt)
                                                       : json_null(),
                                  "container", h.container[0]
                                                   ? json_string(h.container)
                                                   : json_null()));
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
    rep->steal_ok = conc_proc_steal_ns(&rep->steal0_ns) == 0;
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

/*
 * Options as typed JSON: counts and sizes as integers, durations in ns
 * under "<key>_ns", so that every time's unit is in its name; a mix's
 * under their full names (conc_mix_record_key).
 */
static json_t *report_options(const struct conc_params *p, bool mix)
{
    json_t *o = json_object();
    char key[80];

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
        snprintf(key, sizeof(key), "%s%s",
                 mix ? conc_mix_record_key(p, i) : opt->key,
                 opt->type == CONC_OPT_DURATION ? "_ns" : "");
        json_object_set_new(o, key, j);
    }
    return o;
}

static json_t *report_pcts(const struct conc_pcts *p)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "p50", report_u64(p->p50),
                     "p75", report_u64(p->p75), "p90", report_u64(p->p90),
                     "p99", report_u64(p->p99), "p999", report_u64(p->p999),
                     "max", report_u64(p->max));
}

static json_t *report_run(const struct conc_workload *w,
                          const struct conc_run_stats *s)
{
    json_t *r = json_object(), *kinds = json_object();

    json_object_set_new(r, "start_ns", report_u64(s->start_ns));
    json_object_set_new(r, "wall_ns", report_u64(s->wall_ns));
    json_object_set_new(r, "user_ns", report_u64(s->user_ns));
    json_object_set_new(r, "sys_ns", report_u64(s->sys_ns));
    json_object_set_new(r, "max_rss_kib", report_u64(s->max_rss_kib));
    json_object_set_new(r, "total_rss_kib", report_u64(s->total_rss_kib));
    json_object_set_new(r, "total_rss_source",
                        json_string(s->total_rss_source ? s->total_rss_source
                                                        : "rss"));
    json_object_set_new(r, "ctxsw_voluntary", report_u64(s->ctxsw_voluntary));
    json_object_set_new(r, "ctxsw_involuntary",
                        report_u64(s->ctxsw_involuntary));
    json_object_set_new(r, "steal_ns", report_u64(s->steal_ns));
    json_object_set_new(r, "runqueue_ns", report_u64(s->runqueue_ns));
    json_object_set_new(r, "runqueue_threads",
                        json_integer(s->runqueue_threads));
    json_object_set_new(r, "throttled_ns", report_u64(s->throttled_ns));
    json_object_set_new(r, "throttled_periods",
                        report_u64(s->throttled_periods));
    if (s->disturbed) {
        json_t *why = json_array();
        for (int k = 0; k < 3; k++)
            if (s->disturbed & (1u << k))
                json_array_append_new(why,
                                      json_string(conc_disturbed_keys[k]));
        json_object_set_new(r, "disturbed", why);
    }
    json_object_set_new(r, "task_ns", report_pcts(&s->task_ns));
    json_object_set_new(r, "done_ns", report_pcts(&s->done_ns));
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
    for (size_t k = 0; k < s->nextra; k++) {
        double v = s->extra[k].value;
        /* Counts stay integers; ratios (fairness) are reals. */
        json_object_set_new(r, s->extra[k].name,
                            v == floor(v) && fabs(v) < 9007199254740992.0
                                ? json_integer((json_int_t)v)
                                : json_real(v));
    }
    json_object_set_new(r, "result", report_u64(s->totals.result));
    json_object_set_new(r, "result_ok", json_boolean(s->result_ok));
    json_object_set_new(r, "failed", json_boolean(s->failed));
    if (s->failed)
        json_object_set_new(r, "why", json_string(s->why));
    return r;
}

json_t *report_summary_json(const struct conc_summary *wall, size_t passed,
                            size_t failed)
{
    return json_pack("{s:{s:f,s:f,s:f,s:f,s:f,s:[f,f],s:I},s:I,s:I}",
                     "wall_ns", "mean", wall->mean, "stddev", wall->stddev,
                     "median", wall->median, "min", wall->min, "max",
                     wall->max, "ci95", wall->ci95_lo, wall->ci95_hi,
                     "outliers", (json_int_t)wall->outliers, "runs_passed",
                     (json_int_t)passed, "runs_failed", (json_int_t)failed);
}

/*
 * The cell's warnings (conc_cell_warnings): [{"kind", "value", "text"}],
 * the text following the cell's label as `run` prints it.
 */
static json_t *report_warnings(const struct conc_cell_result *res)
{
    struct conc_cell_warning w[CONC_CELL_WARN_MAX];
    size_t n = conc_cell_warnings(res, w);
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:f,s:s}", "kind",
                                           conc_cell_warn_keys[w[i].kind],
                                           "value", w[i].value, "text",
                                           w[i].text));
    return a;
}

void conc_report_add(struct conc_report *rep, const struct conc_cell *cell,
                     const struct conc_cell_result *res)
{
    json_t *o = json_object(), *runs = json_array();

    json_object_set_new(o, "model", json_string(cell->model->name));
    json_object_set_new(o, "model_options", report_options(&cell->mp, false));
    json_object_set_new(o, "workload", json_string(cell->workload->name));
    json_object_set_new(o, "workload_options",
                        report_options(&cell->wp,
                                       conc_mix_is(cell->workload->name)));
    json_object_set_new(o, "tasks", json_integer(cell->tasks));
    json_object_set_new(o, "warmup", json_integer(cell->warmup));
    if (res->skipped) {
        json_object_set_new(o, "skipped", json_string(res->skipped));
    } else {
        for (unsigned i = 0; i < res->nruns; i++)
            json_array_append_new(runs,
                                  report_run(cell->workload, &res->runs[i]));
        json_object_set_new(o, "runs", runs);
        if (res->wall.n) {
            json_t *sum = report_summary_json(&res->wall, res->wall.n,
                                              res->nruns - res->wall.n);
            json_t *dist = json_object();
            for (int k = 0; k < 3; k++)
                json_object_set_new(dist, conc_disturbed_keys[k],
                                    json_integer(res->disturbed[k]));
            json_object_set_new(dist, "limit_pct",
                                json_real(CONC_DISTURB_PCT));
            json_object_set_new(sum, "disturbed_runs", dist);
            json_object_set_new(o, "summary", sum);
            json_object_set_new(o, "warnings", report_warnings(res));
        } else {
            /* No run passed: no numbers to summarize, and why. */
            json_object_set_new(o, "summary", json_null());
        }
        if (res->failed && res->nruns && res->wall.n == 0)
            json_object_set_new(o, "why",
                                json_string(res->runs[res->nruns - 1].why));
        else if (res->failed && !res->nruns && res->err)
            json_object_set_new(o, "why", json_string(strerror(-res->err)));
        runs = NULL;
    }
    json_object_set_new(o, "failed", json_boolean(res->failed));
    if (runs)
        json_decref(runs);
    json_array_append_new(rep->results, o);
}

char *conc_report_cell_id(const struct conc_cell *cell)
{
    json_t *o = json_pack("{s:s,s:o,s:s,s:o,s:I}", "model", cell->model->name,
                          "model_options", report_options(&cell->mp, false),
                          "workload", cell->workload->name,
                          "workload_options",
                          report_options(&cell->wp,
                                         conc_mix_is(cell->workload->name)),
                          "tasks", (json_int_t)cell->tasks);
    char *id = report_result_id(o);

    json_decref(o);
    return id;
}

void conc_report_set_shard_manifest(struct conc_report *rep, const char *plan,
                                    char *const *plan_ids,
                                    const unsigned *plan_shard, size_t nplan,
                                    unsigned k, unsigned n)
{
    json_t *cells = json_array(), *all = json_array(), *r;
    size_t i;

    json_array_foreach(rep->results, i, r) {
        char *id = report_result_id(r);
        json_array_append_new(cells, json_string(id ? id : ""));
        free(id);
    }
    /* The whole plan in every shard: merge names a missing cell by it. */
    for (i = 0; i < nplan; i++)
        json_array_append_new(all, json_pack("{s:s,s:I}", "id", plan_ids[i],
                                             "shard",
                                             (json_int_t)plan_shard[i]));
    json_object_set_new(rep->root, "shard_manifest",
                        json_pack("{s:s,s:I,s:I,s:o,s:o}", "plan", plan, "k",
                                  (json_int_t)k, "n", (json_int_t)n, "cells",
                                  cells, "plan_cells", all));
}

void conc_report_add_speedup(struct conc_report *rep,
                             const struct conc_speedup *sp)
{
    json_t *last = json_array_get(rep->results,
                                  json_array_size(rep->results) - 1);
    const char *model;
    json_t *o;

    if (!last)
        return;
    /* sweep-table.c's baseline: python's is CPython's own plain loop. */
    model = json_string_value(json_object_get(last, "model"));
    o = json_pack("{s:f,s:[f,f],s:I,s:s,s:s,s:o,s:b}", "value", sp->value,
                  "ci95", sp->lo, sp->hi, "pairs", (json_int_t)sp->pairs,
                  "baseline", model && strcmp(model, "python") == 0
                                  ? "python api=sequential" : "sequential",
                  "method",
                  "median of ratios of runs paired nearest in time; "
                  "bootstrap 95% CI",
                  "limit", sp->limit > 0 ? json_real(sp->limit) : json_null(),
                  "impossible", sp->impossible);
    if (sp->impossible) {
        char why[128];
        conc_speedup_why(sp, why, sizeof(why));
        json_object_set_new(o, "why", json_string(why));
    }
    json_object_set_new(last, "speedup", o);
}

int conc_report_check_path(const char *path)
{
    const struct conc_output o = { "--json", path };

    return conc_outputs_check(&o, 1) ? -EINVAL : 0;
}

char *report_json_text(const json_t *doc, size_t *len)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                     JSON_REAL_PRECISION(12));

    if (!text)
        return NULL;
    *len = strlen(text);
    text = conc_xrealloc(text, *len + 2);
    text[(*len)++] = '\n';
    text[*len] = '\0';
    return text;
}

int conc_report_write(struct conc_report *rep, const char *path)
{
    size_t len;
    char *text;
    int err;
    uint64_t steal;
    double load[3];

    /* The interference over the whole report, beside each run's own. */
    if (rep->steal_ok && conc_proc_steal_ns(&steal) == 0)
        json_object_set_new(rep->root, "steal_ns",
                            report_u64(steal > rep->steal0_ns
                                           ? steal - rep->steal0_ns : 0));
    if (getloadavg(load, 3) == 3)
        json_object_set_new(rep->root, "loadavg_end",
                            json_pack("[f,f,f]", load[0], load[1], load[2]));
    text = report_json_text(rep->root, &len);
    if (!text)
        return conc_error_msg(-ENOMEM, "cannot encode the report");
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
