/*
 * concbench compare: matches the cells of two reports and says, for one
 * metric, whether each got faster, slower, stayed the same, or is too noisy
 * to tell, with a Mann-Whitney U test over the runs and a Hodges-Lehmann
 * estimate of the change with Moses' 95% interval. Exit 1 on a regression.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/args.h"
#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/registry.h"
#include "cmd/report.h"
#include "cmd/stats.h"
#include "lib/clock.h"
#include "lib/err.h"

static const char compare_usage[] =
    "usage: concbench compare BASE.json NEW.json [--metric M] [--threshold 5%]\n"
    "                         [--alpha 0.01] [--format text|md|json|github-benchmark]\n"
    "\n"
    "    --metric M        what to compare (default wall_ns): wall_ns, user_ns,\n"
    "                      sys_ns, cpu_ns (user + sys), max_rss_kib, or any\n"
    "                      numeric run field, a percentile as task_ns.p99,\n"
    "                      lateness_ns.p50, request_ns.max\n"
    "    --threshold T     smallest change that counts, in percent (default 5%)\n"
    "    --alpha A         significance level of the test (default 0.01)\n"
    "    --format F        text (default), md (a pull-request comment), json,\n"
    "                      github-benchmark (customSmallerIsBetter, NEW's values)\n"
    "\n"
    "Cells match by model, workload, their options and tasks; only passed runs\n"
    "count. change: the Hodges-Lehmann shift NEW - BASE over BASE's median,\n"
    "with Moses' distribution-free 95% interval; p: Mann-Whitney U, two-sided,\n"
    "exact up to 60 runs. Verdicts: slower/faster (p < alpha and the change\n"
    "beyond the threshold), unchanged (the change within the threshold, or its\n"
    "95% interval inside it), noisy (neither: too few runs or too much spread),\n"
    "failed (no passed run). Exit 1 when a cell is slower or has no passed run\n"
    "in NEW, 2 on bad input, 0 otherwise.\n";

enum compare_format { COMPARE_TEXT, COMPARE_MD, COMPARE_JSON, COMPARE_BENCH };

struct compare_opts {
    const char *metric, *unit;
    double threshold_pct, alpha;
    enum compare_format format;
    bool time; /* a duration: "faster"/"slower" read naturally */
};

/* The metric of one run; cpu_ns is user_ns + sys_ns when not recorded. */
static double compare_metric(const struct conc_rrun *r, const char *metric)
{
    double v = conc_rrun_metric(r, metric);

    if (isnan(v) && strcmp(metric, "cpu_ns") == 0)
        v = conc_rrun_metric(r, "user_ns") + conc_rrun_metric(r, "sys_ns");
    return v;
}

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

/* The passed runs' values of the metric; counts failed runs. */
static double *compare_values(const struct conc_rcell *c, const char *metric,
                              size_t *n, size_t *failed)
{
    double *v = conc_xmalloc((c->nruns + 1) * sizeof(*v));

    *n = *failed = 0;
    for (size_t i = 0; i < c->nruns; i++) {
        double x = compare_metric(&c->runs[i], metric);
        if (c->runs[i].failed)
            (*failed)++;
        else if (!isnan(x))
            v[(*n)++] = x;
    }
    return v;
}

static double compare_mad(const double *x, size_t n, double median)
{
    double *d = conc_xmalloc((n + 1) * sizeof(*d)), m;

    for (size_t i = 0; i < n; i++)
        d[i] = fabs(x[i] - median);
    m = conc_median(d, n);
    free(d);
    return m;
}

/* Smallest runs per side with which Mann-Whitney can reach p < alpha. */
static size_t compare_runs_needed(double alpha)
{
    size_t k = 2;

    while (k < 1000 && conc_mw_min_p(k, k) >= alpha)
        k++;
    return k;
}

/* A change relative to the base median; +-inf when the base is 0. */
static double compare_pct(double shift, double base)
{
    if (base != 0)
        return 100 * shift / fabs(base);
    return shift == 0 ? 0 : shift > 0 ? INFINITY : -INFINITY;
}

/* Fills row's statistics and verdict. Returns 1 when it is a regression. */
static int compare_row(struct conc_cmp_row *row, const struct compare_opts *o)
{
    double *b, *n, est, lo, hi, thr = o->threshold_pct;
    int ci_err, regression = 0;

    row->median_base = row->median_new = row->mad_new = NAN;
    row->change_pct = row->ci_lo_pct = row->ci_hi_pct = NAN;
    row->p = row->min_p = NAN;
    if (row->base->skipped || row->new->skipped) {
        row->verdict = "skipped";
        snprintf(row->note, sizeof(row->note), "skipped in %s: %s",
                 row->new->skipped ? "new" : "base",
                 row->new->skipped ? row->new->skipped : row->base->skipped);
        return 0;
    }
    b = compare_values(row->base, o->metric, &row->n_base, &row->failed_base);
    n = compare_values(row->new, o->metric, &row->n_new, &row->failed_new);
    if (row->n_new == 0 && row->failed_new == row->new->nruns) {
        row->verdict = "failed";
        snprintf(row->note, sizeof(row->note), "no passed run in new "
                 "(%zu failed)", row->failed_new);
        regression = 1;
        goto out;
    }
    if (row->n_base == 0 && row->failed_base == row->base->nruns) {
        row->verdict = "failed";
        snprintf(row->note, sizeof(row->note), "no passed run in base "
                 "(%zu failed)", row->failed_base);
        goto out;
    }
    if (row->n_base == 0 || row->n_new == 0) {
        row->verdict = "n/a";
        snprintf(row->note, sizeof(row->note), "no '%s' in %s", o->metric,
                 row->n_base == 0 ? "base" : "new");
        goto out;
    }
    row->median_base = conc_median(b, row->n_base);
    row->median_new = conc_median(n, row->n_new);
    row->mad_new = compare_mad(n, row->n_new, row->median_new);
    row->p = conc_mann_whitney(b, row->n_base, n, row->n_new, NULL);
    row->min_p = conc_mw_min_p(row->n_base, row->n_new);
    ci_err = conc_hodges_lehmann(b, row->n_base, n, row->n_new, 0.95, &est,
                                 &lo, &hi);
    row->change_pct = compare_pct(est, row->median_base);
    row->ci_lo_pct = ci_err ? -INFINITY : compare_pct(lo, row->median_base);
    row->ci_hi_pct = ci_err ? INFINITY : compare_pct(hi, row->median_base);

    if (row->p < o->alpha && row->change_pct > thr) {
        row->verdict = "slower";
        regression = 1;
    } else if (row->p < o->alpha && row->change_pct < -thr) {
        row->verdict = "faster";
    } else if (row->p < o->alpha) {
        row->verdict = "unchanged";
        snprintf(row->note, sizeof(row->note), "significant but within the "
                 "%g%% threshold", thr);
    } else if (row->ci_lo_pct >= -thr && row->ci_hi_pct <= thr) {
        row->verdict = "unchanged";
        snprintf(row->note, sizeof(row->note), "95%% CI within \xc2\xb1%g%%",
                 thr);
    } else if (row->min_p >= o->alpha) {
        row->verdict = "noisy";
        snprintf(row->note, sizeof(row->note), "too few runs: %zu and %zu "
                 "cannot reach p < %g (best %.2g)", row->n_base, row->n_new,
                 o->alpha, row->min_p);
    } else {
        row->verdict = "noisy";
        if (ci_err)
            snprintf(row->note, sizeof(row->note), "no 95%% CI from %zu and "
                     "%zu runs", row->n_base, row->n_new);
        else
            snprintf(row->note, sizeof(row->note), "95%% CI wider than "
                     "\xc2\xb1%g%%", thr);
    }
out:
    free(b);
    free(n);
    return regression;
}

/* A value in the metric's unit, for the tables. */
static char *compare_fmt_value(char *buf, size_t len, double v,
                               const struct compare_opts *o)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (strcmp(o->unit, "ns") == 0)
        conc_fmt_ns(buf, len, v);
    else if (strcmp(o->unit, "KiB") == 0)
        snprintf(buf, len, "%.1f MiB", v / 1024);
    else
        snprintf(buf, len, "%.6g", v);
    return buf;
}

static char *compare_fmt_pct(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (isinf(v))
        snprintf(buf, len, "%s", v > 0 ? "+inf" : "-inf");
    else
        snprintf(buf, len, "%+.1f%%", v);
    return buf;
}

static char *compare_fmt_ci(char *buf, size_t len, const struct conc_cmp_row *r,
                            const char *sep)
{
    char lo[24], hi[24];

    if (isnan(r->ci_lo_pct))
        snprintf(buf, len, "-");
    else if (isinf(r->ci_lo_pct) && isinf(r->ci_hi_pct))
        snprintf(buf, len, "too few runs");
    else
        snprintf(buf, len, "%s%s%s", compare_fmt_pct(lo, sizeof(lo),
                                                     r->ci_lo_pct),
                 sep, compare_fmt_pct(hi, sizeof(hi), r->ci_hi_pct));
    return buf;
}

static char *compare_fmt_p(char *buf, size_t len, double p)
{
    if (isnan(p))
        snprintf(buf, len, "-");
    else if (p < 0.001)
        snprintf(buf, len, "%.1e", p);
    else
        snprintf(buf, len, "%.3f", p);
    return buf;
}

/* "slower" for durations, "higher" for memory and counts. */
static const char *compare_word(const char *verdict,
                                const struct compare_opts *o)
{
    if (o->time)
        return verdict;
    if (strcmp(verdict, "slower") == 0)
        return "higher";
    if (strcmp(verdict, "faster") == 0)
        return "lower";
    return verdict;
}

static void compare_tally(const struct conc_cmp *c, char *buf, size_t len,
                          const struct compare_opts *o, const char *sep)
{
    static const char *const verdicts[] = { "slower", "faster", "unchanged",
                                            "noisy", "failed", "skipped",
                                            "n/a" };
    size_t at = 0;

    buf[0] = '\0';
    for (size_t v = 0; v < sizeof(verdicts) / sizeof(verdicts[0]); v++) {
        size_t k = 0;
        for (size_t i = 0; i < c->nrows; i++)
            k += strcmp(c->rows[i].verdict, verdicts[v]) == 0;
        if (k && at < len)
            at += (size_t)snprintf(buf + at, len - at, "%s%zu %s",
                                   at ? sep : "", k,
                                   compare_word(verdicts[v], o));
    }
    if (!c->nrows)
        snprintf(buf, len, "no cell in both reports");
}

static void compare_print_text(const struct conc_cmp *c,
                               const struct compare_opts *o)
{
    size_t w = 4;
    char bv[32], nv[32], ch[24], ci[48], p[24], tally[256];

    for (size_t i = 0; i < c->nrows; i++)
        w = strlen(c->rows[i].label) > w ? strlen(c->rows[i].label) : w;
    printf("%s: '%s' -> '%s' (threshold %g%%, alpha %g)\n", c->metric,
           c->base_path, c->new_path, c->threshold_pct, c->alpha);
    printf("%-*s  %10s  %10s  %8s  %-17s  %7s  %s\n", (int)w, "cell", "base",
           "new", "change", "95% CI", "p", "verdict");
    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];
        printf("%-*s  %10s  %10s  %8s  %-17s  %7s  %s", (int)w, r->label,
               compare_fmt_value(bv, sizeof(bv), r->median_base, o),
               compare_fmt_value(nv, sizeof(nv), r->median_new, o),
               compare_fmt_pct(ch, sizeof(ch), r->change_pct),
               compare_fmt_ci(ci, sizeof(ci), r, " .. "),
               compare_fmt_p(p, sizeof(p), r->p), compare_word(r->verdict, o));
        if (r->note[0])
            printf(" (%s)", r->note);
        putchar('\n');
    }
    compare_tally(c, tally, sizeof(tally), o, ", ");
    printf("%s; change: Hodges-Lehmann shift over the base median, 95%% CI "
           "by Moses; p: Mann-Whitney U\n", tally);
}

/* Markdown: a table for a pull-request comment. */
static void compare_print_md(const struct conc_cmp *c,
                             const struct compare_opts *o)
{
    char bv[32], nv[32], ch[24], ci[48], p[24], tally[256];

    compare_tally(c, tally, sizeof(tally), o, " \xc2\xb7 ");
    printf("### concbench compare: `%s`\n\n", c->metric);
    printf("**%s** (threshold %g%%, alpha %g)\n\n", tally, c->threshold_pct,
           c->alpha);
    printf("| cell | base | new | change | 95%% CI | p | verdict |\n");
    printf("|:--|--:|--:|--:|:-:|--:|:--|\n");
    for (size_t i = 0; i < c->nrows; i++) {
        const struct conc_cmp_row *r = &c->rows[i];
        bool bold = strcmp(r->verdict, "slower") == 0 ||
                    strcmp(r->verdict, "failed") == 0;
        printf("| `%s` | %s | %s | %s | %s | %s | %s%s%s%s%s%s |\n", r->label,
               compare_fmt_value(bv, sizeof(bv), r->median_base, o),
               compare_fmt_value(nv, sizeof(nv), r->median_new, o),
               compare_fmt_pct(ch, sizeof(ch), r->change_pct),
               compare_fmt_ci(ci, sizeof(ci), r, " \xe2\x80\xa6 "),
               compare_fmt_p(p, sizeof(p), r->p), bold ? "**" : "",
               compare_word(r->verdict, o), bold ? "**" : "",
               r->note[0] ? " (" : "", r->note, r->note[0] ? ")" : "");
    }
    if (c->nonly_base || c->nonly_new) {
        printf("\n");
        for (size_t i = 0; i < c->nonly_base; i++)
            printf("- only in base: `%s`\n", c->only_base_labels[i]);
        for (size_t i = 0; i < c->nonly_new; i++)
            printf("- only in new: `%s`\n", c->only_new_labels[i]);
    }
    printf("\n<sub>change: Hodges\xe2\x80\x93Lehmann shift over the base "
           "median, with Moses' 95%% interval; p: Mann\xe2\x80\x93Whitney U, "
           "two-sided; only passed runs count.</sub>\n");
}

/* Warns once per pair of different machines among the matched cells. */
static void compare_warn_hosts(const struct conc_cmp_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct conc_rhost *b = &rows[i].base->host, *h = &rows[i].new->host;
        bool seen = false;

        if (strcmp(b->cpu_model, h->cpu_model) == 0 && b->cpus == h->cpus &&
            strcmp(b->kernel, h->kernel) == 0)
            continue;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(rows[j].base->host.fingerprint, b->fingerprint) == 0 &&
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

/* Parses argv into o and the two paths; 0, or CONC_EXIT_USAGE. */
static int compare_args(int argc, char **argv, struct compare_opts *o,
                        const char **paths, bool *help)
{
    struct conc_args a = { argc, 1, argv };
    const char *thr = NULL, *alpha = NULL, *format = NULL;
    int npaths = 0;

    *help = false;
    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i];
        int k;

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            *help = true;
            return 0;
        }
        if ((k = conc_args_value(&a, "--metric", NULL, &o->metric)) ||
            (k = conc_args_value(&a, "--threshold", NULL, &thr)) ||
            (k = conc_args_value(&a, "--alpha", NULL, &alpha)) ||
            (k = conc_args_value(&a, "--format", NULL, &format))) {
            if (k < 0)
                return CONC_EXIT_USAGE;
            continue;
        }
        if (arg[0] == '-' && arg[1]) {
            conc_usage_error("unknown option '%s'", arg);
            fputs(compare_usage, stderr);
            return CONC_EXIT_USAGE;
        }
        if (npaths == 2) {
            conc_usage_error("unexpected argument '%s': compare takes two "
                             "reports", arg);
            return CONC_EXIT_USAGE;
        }
        paths[npaths++] = arg;
    }
    if (npaths < 2) {
        conc_usage_error("compare needs two reports, BASE and NEW");
        fputs(compare_usage, stderr);
        return CONC_EXIT_USAGE;
    }
    if ((thr && compare_parse_pct(thr, &o->threshold_pct)) ||
        (alpha && compare_parse_alpha(alpha, &o->alpha)) ||
        (format && compare_parse_format(format, &o->format)))
        return CONC_EXIT_USAGE;
    if (!o->metric)
        o->metric = "wall_ns";
    if (!o->metric[0])
        return conc_usage_error("empty value for '--metric'");
    o->unit = compare_unit(o->metric);
    o->time = strcmp(o->unit, "ns") == 0;
    return 0;
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

int cmd_compare(int argc, char **argv)
{
    struct compare_opts o = { NULL, NULL, 5, 0.01, COMPARE_TEXT, true };
    const char *paths[2] = { NULL, NULL }, *names[64];
    struct conc_rfile *base = NULL, *new = NULL;
    struct conc_cmp_row *rows = NULL;
    const struct conc_rcell **ob = NULL, **on = NULL;
    char **obl = NULL, **onl = NULL;
    struct conc_cmp c;
    size_t nnames = 0, needed;
    bool help, *taken = NULL;
    long *match = NULL;
    int rc;

    if ((rc = compare_args(argc, argv, &o, paths, &help)))
        return rc;
    if (help) {
        fputs(compare_usage, stdout);
        return CONC_EXIT_OK;
    }
    rc = CONC_EXIT_USAGE;
    if (conc_report_load(paths[0], &base) || conc_report_load(paths[1], &new))
        goto out;
    if (compare_check_dups(base) || compare_check_dups(new))
        goto out;
    if (!compare_has_metric(base, o.metric, names, &nnames, 64) &&
        !compare_has_metric(new, o.metric, names, &nnames, 64)) {
        const char *hint = conc_suggest(o.metric, names, nnames);
        if (hint)
            conc_usage_error("no run has the metric '%s'; did you mean '%s'?",
                             o.metric, hint);
        else
            conc_usage_error("no run has the metric '%s' (see 'concbench "
                             "compare --help')", o.metric);
        goto out;
    }

    memset(&c, 0, sizeof(c));
    c.metric = o.metric;
    c.unit = o.unit;
    c.base_path = paths[0];
    c.new_path = paths[1];
    c.threshold_pct = o.threshold_pct;
    c.alpha = o.alpha;
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
        c.regressions += (size_t)compare_row(&rows[c.nrows], &o);
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

    compare_warn_hosts(rows, c.nrows);
    for (size_t i = 0; i < c.nonly_base; i++)
        conc_warn("only in base '%s': %s", paths[0], obl[i]);
    for (size_t i = 0; i < c.nonly_new; i++)
        conc_warn("only in new '%s': %s", paths[1], onl[i]);
    needed = compare_runs_needed(o.alpha);
    for (size_t i = 0; i < c.nrows; i++)
        if (!isnan(rows[i].min_p) && rows[i].min_p >= o.alpha)
            conc_warn("'%s' has %zu and %zu passed runs: Mann-Whitney cannot "
                      "reach p < %g with them (best %.2g); run at least %zu "
                      "a side", rows[i].label, rows[i].n_base, rows[i].n_new,
                      o.alpha, rows[i].min_p, needed);

    rc = c.regressions ? CONC_EXIT_FAILED : CONC_EXIT_OK;
    switch (o.format) {
    case COMPARE_TEXT: compare_print_text(&c, &o); break;
    case COMPARE_MD: compare_print_md(&c, &o); break;
    case COMPARE_JSON:
        if (conc_report_compare_json(&c))
            rc = CONC_EXIT_FAILED;
        break;
    case COMPARE_BENCH:
        if (conc_report_benchmark_json(&c))
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
    return rc;
}
