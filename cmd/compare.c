/*
 * concbench compare: matches the cells of two reports and says, for one
 * metric, whether each got faster, slower, stayed the same, or is too noisy
 * to tell (compare-verdict.c), printed as a table or JSON (compare-text.c,
 * compare-json.c). Exit 1 on a regression, when nothing matched or when a
 * cell of BASE is missing; 4 when most cells are noisy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/compare.h"
#include "cmd/exit.h"
#include "cmd/flags.h"
#include "cmd/registry.h"
#include "cmd/report.h"
#include "lib/clock.h"
#include "lib/err.h"

static const char compare_synopsis[] =
    "compare BASE.json NEW.json [--metric M] [--threshold 5%]\n"
    "                         [--alpha 0.01] [--format text|md|json|"
    "github-benchmark]\n"
    "                         [--allow-missing] [--accept-noisy] "
    "[--keep-disturbed]\n"
    "                         [--calibration FILE]";

static const char compare_epilogue[] =
    "Cells match by model, workload, their options and tasks; only passed\n"
    "runs count, and not disturbed ones (others took over 5%: steal,\n"
    "run-queue wait, throttling) unless --keep-disturbed. change: the\n"
    "Hodges-Lehmann shift NEW - BASE over BASE's median, with Moses'\n"
    "distribution-free 95% interval; p: Mann-Whitney U,\n"
    "two-sided, exact wherever affordable. Significant: p < alpha and the\n"
    "95% interval excludes 0. Verdicts: slower/faster (significant and the\n"
    "change beyond the threshold), unchanged (significant but within the\n"
    "threshold, or the 95% interval inside it), noisy (neither: too few\n"
    "runs or too much spread), failed (no passed run). The threshold in\n"
    "effect is the larger of --threshold and the calibrated noise floor.\n"
    "Exit 1 when a cell is slower or has no passed run in NEW, when no cell\n"
    "matched, or when a cell of BASE is missing from NEW; 4 (inconclusive)\n"
    "when more than half the compared cells are noisy; 2 on bad input; 0\n"
    "otherwise.\n";

enum compare_format { COMPARE_TEXT, COMPARE_MD, COMPARE_JSON, COMPARE_BENCH };

/* The unit of a metric from its name: "task_ns.p99" is in ns. */
static const char *compare_unit(const char *metric)
{
    size_t len = strcspn(metric, ".");

    if (len >= 3 && strncmp(metric + len - 3, "_ns", 3) == 0)
        return "ns";
    if (len >= 4 && strncmp(metric + len - 4, "_kib", 4) == 0)
        return "KiB";
    if (len >= 6 && strncmp(metric + len - 6, "_bytes", 6) == 0)
        return "bytes";
    return "count";
}

/* Whether any run in f has the metric; fills names from the first run. */
static bool compare_has_metric(const struct conc_rfile *f, const char *metric,
                               const char **names, size_t *nnames, size_t max)
{
    for (size_t c = 0; c < f->ncells; c++)
        for (size_t r = 0; r < f->cells[c].nruns; r++) {
            const struct conc_rrun *run = &f->cells[c].runs[r];
            if (*nnames == 0)
                for (size_t i = 0; i < run->nmetrics && *nnames < max; i++)
                    names[(*nnames)++] = run->names[i];
            if (!isnan(compare_metric(run, metric)))
                return true;
        }
    return false;
}

/* A compact value for a label: 5ms for 5000000 ns, 1e8 for 100000000. */
static void compare_fmt_opt(char *buf, size_t len, const char *val,
                            enum conc_opt_type type)
{
    char *end;
    unsigned long long v = strtoull(val, &end, 10);
    static const struct { unsigned long long ns; const char *unit; } d[] = {
        { 60 * CONC_NS_PER_S, "min" }, { CONC_NS_PER_S, "s" },
        { CONC_NS_PER_MS, "ms" },      { CONC_NS_PER_US, "us" },
    };

    snprintf(buf, len, "%s", val);
    if (*end || end == val || v == 0)
        return;
    if (type == CONC_OPT_DURATION) {
        for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
            if (v % d[i].ns == 0) {
                snprintf(buf, len, "%llu%s", v / d[i].ns, d[i].unit);
                return;
            }
        snprintf(buf, len, "%lluns", v);
    } else if (type == CONC_OPT_COUNT && v >= 10000) {
        int e = 0;
        while (v % 10 == 0) {
            v /= 10;
            e++;
        }
        if (v < 10 && e >= 4)
            snprintf(buf, len, "%llue%d", v, e);
    }
}

/* Appends the options of kv that differ from table's defaults. */
static size_t compare_label_opts(char *buf, size_t len, size_t at,
                                 const struct conc_rkv *kv, size_t n,
                                 const struct conc_opt *table)
{
    struct conc_params p;
    bool have = table && conc_params_init(&p, table) == 0;

    for (size_t i = 0; i < n && at < len; i++) {
        int k = have ? conc_params_find(&p, kv[i].key) : -1;
        enum conc_opt_type type = k >= 0 ? table[k].type : CONC_OPT_STRING;
        char def[32], val[64];

        if (k >= 0 && p.v[k].present) {
            const char *d = def;
            if (type == CONC_OPT_BOOL)
                d = p.v[k].u ? "on" : "off";
            else if (type == CONC_OPT_CHOICE || type == CONC_OPT_STRING)
                d = p.v[k].s;
            else
                snprintf(def, sizeof(def), "%llu",
                         (unsigned long long)p.v[k].u);
            if (strcmp(d, kv[i].val) == 0)
                continue; /* the default says nothing */
        }
        compare_fmt_opt(val, sizeof(val), kv[i].val, type);
        at += (size_t)snprintf(buf + at, len - at, " %s=%s", kv[i].key, val);
    }
    if (have)
        conc_params_fini(&p);
    return at < len ? at : len - 1;
}

char *conc_compare_label(const struct conc_rcell *c, bool with_host)
{
    const struct conc_model *m = conc_model_find(c->model);
    const struct conc_workload *w = conc_workload_find(c->workload);
    char buf[512];
    size_t at;

    at = (size_t)snprintf(buf, sizeof(buf), "%s/%s t=%llu", c->workload,
                          c->model, c->tasks);
    at = compare_label_opts(buf, sizeof(buf), at, c->mopts, c->nmopts,
                            m ? m->opts : NULL);
    at = compare_label_opts(buf, sizeof(buf), at, c->wopts, c->nwopts,
                            w ? w->opts : NULL);
    if (with_host)
        snprintf(buf + at, sizeof(buf) - at, " @%s/%lld cpus",
                 c->host.cpu_model, c->host.cpus);
    return conc_xstrdup(buf);
}

/* The number of cells in f with the same id as c (itself included). */
static size_t compare_count_id(const struct conc_rfile *f,
                               const struct conc_rcell *c)
{
    size_t n = 0;

    for (size_t i = 0; i < f->ncells; i++)
        n += strcmp(f->cells[i].id, c->id) == 0;
    return n;
}

/* A cell twice on one host would make matching ambiguous: exit 2. */
static int compare_check_dups(const struct conc_rfile *f)
{
    for (size_t i = 0; i < f->ncells; i++)
        for (size_t j = i + 1; j < f->ncells; j++)
            if (strcmp(f->cells[i].id, f->cells[j].id) == 0 &&
                strcmp(f->cells[i].host.fingerprint,
                       f->cells[j].host.fingerprint) == 0) {
                char *l = conc_compare_label(&f->cells[i], false);
                conc_error_msg(-EINVAL, "cell '%s' appears twice in '%s' "
                               "(results %zu and %zu)", l, f->path, i, j);
                free(l);
                return -EINVAL;
            }
    return 0;
}

/* Warns once per pair of different machines among the matched cells. */
static void compare_warn_hosts(const struct conc_cmp_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct conc_rhost *b = &rows[i].base->host,
                                *h = &rows[i].new->host;
        bool seen = false;

        if (strcmp(b->cpu_model, h->cpu_model) == 0 && b->cpus == h->cpus &&
            strcmp(b->kernel, h->kernel) == 0)
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen =
                strcmp(rows[j].base->host.fingerprint, b->fingerprint) == 0 &&
                strcmp(rows[j].new->host.fingerprint, h->fingerprint) == 0;
        if (seen)
            continue;
        if (strcmp(b->cpu_model, h->cpu_model) != 0 || b->cpus != h->cpus)
            conc_warn("hosts differ: base ran on '%s' with %lld cpus, new on "
                      "'%s' with %lld cpus; timings may not be comparable",
                      b->cpu_model, b->cpus, h->cpu_model, h->cpus);
        else
            conc_warn("kernels differ: base '%s', new '%s'", b->kernel,
                      h->kernel);
    }
}

/* A percentage such as 5%, 5 or 2.5%. */
static int compare_parse_pct(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || (*end && strcmp(end, "%") != 0) || !(v >= 0) ||
        !isfinite(v))
        return conc_usage_error("bad value '%s' for '--threshold': expected a "
                                "percentage such as 5%%", s);
    *out = v;
    return 0;
}

/* A significance level, strictly between 0 and 1. */
static int compare_parse_alpha(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end || !(v > 0 && v < 1))
        return conc_usage_error("bad value '%s' for '--alpha': expected a "
                                "probability between 0 and 1 such as 0.01", s);
    *out = v;
    return 0;
}

/* One of the four formats ("markdown" is md's other name). */
static int compare_parse_format(const char *s, enum compare_format *out)
{
    static const char *const names[] = { "text", "md", "json",
                                         "github-benchmark" };
    const char *hint;

    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum compare_format)i;
            return 0;
        }
    if (strcmp(s, "markdown") == 0) {
        *out = COMPARE_MD;
        return 0;
    }
    hint = conc_suggest(s, names, 4);
    if (hint)
        return conc_usage_error("unknown format '%s'; did you mean '%s'?", s,
                                hint);
    return conc_usage_error("unknown format '%s' (text, md, json or "
                            "github-benchmark)", s);
}

/*
 * The command line into c (metric, unit, threshold, alpha, the two paths,
 * the switches), *format and *calib_path (NULL when not given).
 * CONC_FLAGS_OK, CONC_FLAGS_HELP (the usage printed), or CONC_EXIT_USAGE
 * with one line printed.
 */
static int compare_args(int argc, char **argv, struct conc_cmp *c,
                        enum compare_format *format, const char **calib_path)
{
    const char *metric = "wall_ns", *thr = NULL, *alpha = NULL, *fmt = NULL;
    const char *calib = NULL;
    bool allow_missing = false, accept_noisy = false, keep_disturbed = false;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 0, "metric", &metric, "M",
          "what to compare (default wall_ns): wall_ns, user_ns, sys_ns, "
          "cpu_ns (user + sys), max_rss_kib, or any numeric run field, a "
          "percentile as task_ns.p99, lateness_ns.p50, request_ns.max", 0, 0 },
        { CONC_FLAG_STRING, 0, "threshold", &thr, "T",
          "smallest change that counts, in percent (default 5%)", 0, 0 },
        { CONC_FLAG_STRING, 0, "alpha", &alpha, "A",
          "significance level of the test (default 0.01)", 0, 0 },
        { CONC_FLAG_STRING, 0, "format", &fmt, "F",
          "text (default), md (a pull-request comment), json, "
          "github-benchmark (customSmallerIsBetter, NEW's values)", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "allow-missing", &allow_missing, NULL,
          "cells of BASE missing from NEW are warnings, not a failure", 0,
          0 },
        { CONC_FLAG_SWITCH, 0, "accept-noisy", &accept_noisy, NULL,
          "pass (exit 0) even when most cells are noisy", 0, 0 },
        { CONC_FLAG_SWITCH, 0, "keep-disturbed", &keep_disturbed, NULL,
          "count runs that other work disturbed (left out by default)", 0,
          0 },
        { CONC_FLAG_STRING, 0, "calibration", &calib, "FILE",
          "this machine's noise floor ('concbench calibrate'): no change "
          "below it counts", 0, 0 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "compare", .synopsis = compare_synopsis, .flags = flags,
        .operands = "two reports, BASE and NEW", .min_operands = 2,
        .max_operands = 2, .epilogue = compare_epilogue,
    };
    struct conc_operands ops;
    int rc = conc_flags_parse(&cmd, argc, argv, &ops);

    if (rc == CONC_FLAGS_OK) {
        /* The operands point into argv: they outlive the parse. */
        c->base_path = ops.v[0];
        c->new_path = ops.v[1];
    }
    conc_flags_fini(&ops);
    if (rc != CONC_FLAGS_OK)
        return rc;
    if ((thr && compare_parse_pct(thr, &c->threshold_pct)) ||
        (alpha && compare_parse_alpha(alpha, &c->alpha)) ||
        (fmt && compare_parse_format(fmt, format)))
        return CONC_EXIT_USAGE;
    c->metric = metric;
    c->unit = compare_unit(metric);
    c->allow_missing = allow_missing;
    c->accept_noisy = accept_noisy;
    c->keep_disturbed = keep_disturbed;
    *calib_path = calib;
    return CONC_FLAGS_OK;
}

/*
 * Pairs each cell of new with one of base: first the same cell on the same
 * machine, then, for what is left, the same cell across machines when that
 * pairing is the only one possible. match[i] is base's index or -1.
 */
static void compare_match(const struct conc_rfile *base,
                          const struct conc_rfile *new, long *match,
                          bool *taken)
{
    for (size_t i = 0; i < new->ncells; i++) {
        const struct conc_rcell *nc = &new->cells[i];
        match[i] = -1;
        for (size_t j = 0; j < base->ncells && match[i] < 0; j++)
            if (!taken[j] && strcmp(base->cells[j].id, nc->id) == 0 &&
                strcmp(base->cells[j].host.fingerprint,
                       nc->host.fingerprint) == 0) {
                match[i] = (long)j;
                taken[j] = true;
            }
    }
    for (size_t i = 0; i < new->ncells; i++) {
        const struct conc_rcell *nc = &new->cells[i];
        size_t nbase = 0, nnew = 0;
        long cand = -1;

        if (match[i] >= 0)
            continue;
        for (size_t j = 0; j < base->ncells; j++)
            if (!taken[j] && strcmp(base->cells[j].id, nc->id) == 0) {
                cand = (long)j;
                nbase++;
            }
        for (size_t k = 0; k < new->ncells; k++)
            nnew += match[k] < 0 && strcmp(new->cells[k].id, nc->id) == 0;
        if (nbase == 1 && nnew == 1) {
            match[i] = cand;
            taken[cand] = true;
        }
    }
}

/*
 * On stderr, what the table does not say: machines that differ, cells in
 * one report only (a cell of base missing from new is an error unless
 * allowed), cells with too few runs for the test to decide, and why the
 * comparison did not pass. When nothing matched, one line says only that.
 */
static void compare_warn(const struct conc_cmp *c)
{
    size_t needed = compare_runs_needed(c->alpha);

    if (c->nrows == 0) {
        conc_error_msg(0, "no cell of base '%s' is in new '%s': nothing was "
                       "compared", c->base_path, c->new_path);
        return;
    }
    compare_warn_hosts(c->rows, c->nrows);
    for (size_t i = 0; i < c->nonly_base; i++)
        if (c->allow_missing)
            conc_warn("only in base '%s': %s", c->base_path,
                      c->only_base_labels[i]);
        else
            conc_error_msg(0, "missing from new '%s': %s", c->new_path,
                           c->only_base_labels[i]);
    for (size_t i = 0; i < c->nonly_new; i++)
        conc_warn("only in new '%s': %s", c->new_path, c->only_new_labels[i]);
    compare_warn_few_runs(c, needed);
    if (c->nonly_base && !c->allow_missing)
        conc_error_msg(0, "%zu cell%s of base '%s' %s missing from new: "
                       "failing (--allow-missing compares the rest)",
                       c->nonly_base, c->nonly_base == 1 ? "" : "s",
                       c->base_path, c->nonly_base == 1 ? "is" : "are");
    if (2 * c->noisy > c->compared) {
        if (c->accept_noisy)
            conc_warn("%zu of %zu compared cells are noisy (accepted by "
                      "--accept-noisy)", c->noisy, c->compared);
        else if (c->exit_code == CONC_EXIT_INCONCLUSIVE)
            conc_error_msg(0, "inconclusive: %zu of %zu compared cells are "
                           "noisy; give more runs, or pass --accept-noisy",
                           c->noisy, c->compared);
    }
}

/*
 * Loads the calibration at path (NULL: none) into c->calib and *out (the
 * caller frees it), warning when it was measured on another machine or for
 * another metric. 0, or CONC_EXIT_USAGE when it cannot be read.
 */
static int compare_calibrate(struct conc_cmp *c, const char *path,
                             const struct conc_rfile *new,
                             struct conc_calib **out)
{
    struct conc_calib *k;

    *out = NULL;
    if (!path)
        return 0;
    if (compare_calib_load(path, &k))
        return CONC_EXIT_USAGE;
    if (strcmp(k->cpu_model, new->host.cpu_model) != 0 ||
        k->cpus != new->host.cpus)
        conc_warn("calibration '%s' was measured on '%s' with %lld cpus, new "
                  "on '%s' with %lld cpus; its floor may not hold", path,
                  k->cpu_model, k->cpus, new->host.cpu_model,
                  new->host.cpus);
    if (strcmp(k->metric, c->metric) != 0)
        conc_warn("calibration '%s' measured %s; its floor is applied to %s",
                  path, k->metric, c->metric);
    c->calib = k;
    *out = k;
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    struct conc_cmp c = { .threshold_pct = 5, .alpha = 0.01 };
    enum compare_format format = COMPARE_TEXT;
    const char *names[64], *calib_path = NULL;
    struct conc_calib *calib = NULL;
    struct conc_rfile *base = NULL, *new = NULL;
    struct conc_cmp_row *rows = NULL;
    const struct conc_rcell **ob = NULL, **on = NULL;
    char **obl = NULL, **onl = NULL;
    size_t nnames = 0;
    bool *taken = NULL;
    long *match = NULL;
    int rc = compare_args(argc, argv, &c, &format, &calib_path);

    if (rc != CONC_FLAGS_OK)
        return rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
    rc = CONC_EXIT_USAGE;
    if (conc_report_load(c.base_path, &base) ||
        conc_report_load(c.new_path, &new))
        goto out;
    if (compare_check_dups(base) || compare_check_dups(new))
        goto out;
    if (!compare_has_metric(base, c.metric, names, &nnames, 64) &&
        !compare_has_metric(new, c.metric, names, &nnames, 64)) {
        const char *hint = conc_suggest(c.metric, names, nnames);
        if (hint)
            conc_usage_error("no run has the metric '%s'; did you mean '%s'?",
                             c.metric, hint);
        else
            conc_usage_error("no run has the metric '%s' (see 'concbench "
                             "compare --help')", c.metric);
        goto out;
    }
    if (compare_calibrate(&c, calib_path, new, &calib))
        goto out;

    rows = conc_xcalloc(new->ncells + 1, sizeof(*rows));
    taken = conc_xcalloc(base->ncells + 1, sizeof(*taken));
    on = conc_xcalloc(new->ncells + 1, sizeof(*on));
    onl = conc_xcalloc(new->ncells + 1, sizeof(*onl));
    match = conc_xcalloc(new->ncells + 1, sizeof(*match));
    compare_match(base, new, match, taken);
    for (size_t i = 0; i < new->ncells; i++) {
        const struct conc_rcell *nc = &new->cells[i];
        long b = match[i];
        bool with_host = compare_count_id(new, nc) > 1;

        if (b < 0) {
            onl[c.nonly_new] = conc_compare_label(nc, with_host);
            on[c.nonly_new++] = nc;
            continue;
        }
        rows[c.nrows].base = &base->cells[b];
        rows[c.nrows].new = nc;
        rows[c.nrows].label = conc_compare_label(nc, with_host);
        rows[c.nrows].floor_pct = calib ? compare_calib_floor(calib, nc) : 0;
        c.regressions += (size_t)compare_row(&rows[c.nrows], &c);
        c.nrows++;
    }
    ob = conc_xcalloc(base->ncells + 1, sizeof(*ob));
    obl = conc_xcalloc(base->ncells + 1, sizeof(*obl));
    for (size_t i = 0; i < base->ncells; i++)
        if (!taken[i]) {
            obl[c.nonly_base] = conc_compare_label(&base->cells[i],
                                              compare_count_id(base,
                                                  &base->cells[i]) > 1);
            ob[c.nonly_base++] = &base->cells[i];
        }
    c.rows = rows;
    c.only_base = ob;
    c.only_new = on;
    c.only_base_labels = (const char *const *)obl;
    c.only_new_labels = (const char *const *)onl;

    compare_conclude(&c);
    compare_warn(&c);
    rc = c.exit_code;
    switch (format) {
    case COMPARE_TEXT: compare_print_text(&c); break;
    case COMPARE_MD: compare_print_md(&c); break;
    case COMPARE_JSON:
        if (compare_print_json(&c))
            rc = CONC_EXIT_FAILED;
        break;
    case COMPARE_BENCH:
        if (compare_print_benchmark(&c))
            rc = CONC_EXIT_FAILED;
        break;
    }
    if (fflush(stdout) != 0)
        rc = conc_error(-errno, "cannot write to stdout") ? CONC_EXIT_FAILED
                                                          : rc;
    for (size_t i = 0; i < c.nrows; i++)
        free((char *)rows[i].label);
    for (size_t i = 0; i < c.nonly_base; i++)
        free(obl[i]);
    for (size_t i = 0; i < c.nonly_new; i++)
        free(onl[i]);
out:
    free(rows);
    free(match);
    free(taken);
    free(ob);
    free(on);
    free(obl);
    free(onl);
    conc_rfile_free(base);
    conc_rfile_free(new);
    compare_calib_free(calib);
    return rc;
}
