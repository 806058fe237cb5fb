/*
 * compare's statistics for one matched cell: a Mann-Whitney U test over the
 * passed runs, the Hodges-Lehmann change with Moses' 95% interval, and the
 * verdict they give against the threshold and alpha.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/compare.h"
#include "cmd/stats.h"
#include "lib/err.h"

double compare_metric(const struct conc_rrun *r, const char *metric)
{
    double v = conc_rrun_metric(r, metric);

    if (isnan(v) && strcmp(metric, "cpu_ns") == 0)
        v = conc_rrun_metric(r, "user_ns") + conc_rrun_metric(r, "sys_ns");
    return v;
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

size_t compare_runs_needed(double alpha)
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

int compare_row(struct conc_cmp_row *row, const struct conc_cmp *c)
{
    double *b, *n, est, lo, hi, thr = c->threshold_pct;
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
    b = compare_values(row->base, c->metric, &row->n_base, &row->failed_base);
    n = compare_values(row->new, c->metric, &row->n_new, &row->failed_new);
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
        snprintf(row->note, sizeof(row->note), "no '%s' in %s", c->metric,
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

    if (row->p < c->alpha && row->change_pct > thr) {
        row->verdict = "slower";
        regression = 1;
    } else if (row->p < c->alpha && row->change_pct < -thr) {
        row->verdict = "faster";
    } else if (row->p < c->alpha) {
        row->verdict = "unchanged";
        snprintf(row->note, sizeof(row->note), "significant but within the "
                 "%g%% threshold", thr);
    } else if (row->ci_lo_pct >= -thr && row->ci_hi_pct <= thr) {
        row->verdict = "unchanged";
        snprintf(row->note, sizeof(row->note), "95%% CI within \xc2\xb1%g%%",
                 thr);
    } else if (row->min_p >= c->alpha) {
        row->verdict = "noisy";
        snprintf(row->note, sizeof(row->note), "too few runs: %zu and %zu "
                 "cannot reach p < %g (best %.2g)", row->n_base, row->n_new,
                 c->alpha, row->min_p);
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
