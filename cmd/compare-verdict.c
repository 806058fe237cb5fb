/*
 * compare's statistics for one matched cell: a Mann-Whitney U test over the
 * passed runs, the Hodges-Lehmann change with Moses' 95% interval, and the
 * verdict they give by the table below; then the whole comparison's.
 *
 * The rules, in order; the first that applies gives the cell's verdict.
 * T is the threshold in effect, max(--threshold, the calibrated noise
 * floor of the cell); CI is Moses' 95% interval of the change, the one the
 * tables show; "significant" means p < alpha AND that CI excludes 0, so a
 * cell never shows p < alpha beside an interval that holds 0.
 *
 *   #   when                              verdict     regression
 *   1   either side skipped               skipped     no
 *   2   no passed run in new              failed      yes
 *   3   no passed run in base             failed      no
 *   4a  every passed run of a side was    noisy       no
 *       disturbed (unless keep_disturbed)
 *   4b  passed runs lack the metric       n/a         no
 *   5   significant, change > +T          slower      yes
 *   6   significant, change < -T          faster      no
 *   7   significant, |change| <= T        unchanged   no
 *   8   CI within [-T, +T]                unchanged   no
 *   9   none of these: noisy, and its note says the first that holds of
 *   9a  the runs cannot reach p < alpha   noisy       no
 *   9b  too few runs for a 95% CI         noisy       no
 *   9c  p < alpha, CI holds 0             noisy       no
 *   9d  p >= alpha, CI excludes 0         noisy       no
 *   9e  p >= alpha, CI holds 0            noisy       no
 *
 * Their notes (5 and 6 have none):
 *   1   skipped in new: <why>   (or base)
 *   2   no passed run in new (k failed)
 *   3   no passed run in base (k failed)
 *   4a  every passed run in new was disturbed (k)   (or base)
 *   4b  no '<metric>' in base   (or new)
 *   7   significant but within the T% threshold
 *   8   95% CI within ±T%
 *   9a  too few runs: m and n cannot reach p < alpha (best q)
 *   9b  too few runs for a 95% CI: m and n
 *   9c  p = q < alpha but the 95% CI [lo, hi] includes 0
 *   9d  p = q is not below alpha, though the 95% CI [lo, hi] excludes 0
 *   9e  95% CI [lo, hi] reaches beyond ±T%
 *
 * A disturbed run (others took over 5% of it: steal, run-queue wait,
 * throttling; cell.c) is left out of both sides unless keep_disturbed, and
 * counted: it measured the other work as much as this one.
 *
 * "Within" includes the bounds; the change is the Hodges-Lehmann estimate,
 * which always lies inside its CI, so rule 8 can never hide a change
 * beyond T. In 9e the CI is not within ±T (rule 8) yet holds 0, so a bound
 * does reach beyond: each note says what is true of the numbers shown.
 *
 * The comparison (compare_conclude), in this order: fail (exit 1) when no
 * cell matched, when a cell is slower or failed in new (rules 2 and 5), or
 * when a cell of base is missing from new (unless --allow-missing);
 * inconclusive (exit 4) when more than half of the cells with a
 * statistical verdict (rules 5-9) are noisy (unless --accept-noisy); pass
 * (exit 0) otherwise.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/compare.h"
#include "cmd/exit.h"
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
                              bool keep_disturbed, size_t *n, size_t *failed,
                              size_t *disturbed)
{
    double *v = conc_xmalloc((c->nruns + 1) * sizeof(*v));

    *n = *failed = *disturbed = 0;
    for (size_t i = 0; i < c->nruns; i++) {
        double x = compare_metric(&c->runs[i], metric);
        if (c->runs[i].failed)
            (*failed)++;
        else if (c->runs[i].disturbed && !keep_disturbed)
            (*disturbed)++;
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
    if (shift == 0)
        return 0; /* never -0, which prints as "-0.0%" */
    if (base != 0)
        return 100 * shift / fabs(base);
    return shift > 0 ? INFINITY : -INFINITY;
}

/* A signed percentage for a note, as the tables print it: "+12.0%". */
static const char *compare_note_pct(char *buf, size_t len, double v)
{
    if (isinf(v))
        snprintf(buf, len, "%s", v > 0 ? "+inf" : "-inf");
    else
        snprintf(buf, len, "%+.1f%%", v);
    return buf;
}

const char *compare_fmt_thr(char *buf, size_t len, double pct)
{
    size_t n;

    /* Two decimals at most, none that say nothing: 5, 2.5, 6.23. */
    snprintf(buf, len, "%.2f", pct);
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
    return buf;
}

/* The noisy note (rule 9 of the table): which of a-e holds. */
static void compare_noisy_note(struct conc_cmp_row *row,
                               const struct conc_cmp *c, bool have_ci)
{
    char lo[24], hi[24], tb[32];
    bool holds_zero = !(row->ci_lo_pct > 0 || row->ci_hi_pct < 0);

    compare_note_pct(lo, sizeof(lo), row->ci_lo_pct);
    compare_note_pct(hi, sizeof(hi), row->ci_hi_pct);
    if (row->min_p >= c->alpha)
        snprintf(row->note, sizeof(row->note), "too few runs: %zu and %zu "
                 "cannot reach p < %g (best %.2g)", row->n_base, row->n_new,
                 c->alpha, row->min_p);
    else if (!have_ci)
        snprintf(row->note, sizeof(row->note), "too few runs for a 95%% CI: "
                 "%zu and %zu", row->n_base, row->n_new);
    else if (row->p < c->alpha)
        snprintf(row->note, sizeof(row->note), "p = %.2g < %g but the 95%% "
                 "CI [%s, %s] includes 0", row->p, c->alpha, lo, hi);
    else if (!holds_zero)
        snprintf(row->note, sizeof(row->note), "p = %.2g is not below %g, "
                 "though the 95%% CI [%s, %s] excludes 0", row->p, c->alpha,
                 lo, hi);
    else
        snprintf(row->note, sizeof(row->note), "95%% CI [%s, %s] reaches "
                 "beyond \xc2\xb1%s%%", lo, hi,
                 compare_fmt_thr(tb, sizeof(tb), row->threshold_pct));
}

int compare_row(struct conc_cmp_row *row, const struct conc_cmp *c)
{
    double *b, *n, est, lo, hi, thr;
    char tb[32];
    int ci_err, regression = 0;

    thr = c->threshold_pct;
    if (row->floor_pct > thr)
        thr = row->floor_pct;
    row->threshold_pct = thr;
    compare_fmt_thr(tb, sizeof(tb), thr);
    row->median_base = row->median_new = row->mad_new = NAN;
    row->change_pct = row->ci_lo_pct = row->ci_hi_pct = NAN;
    row->p = row->min_p = NAN;
    row->significant = false;
    row->note[0] = '\0';
    row->n_base = row->n_new = row->failed_base = row->failed_new = 0;
    if (row->base->skipped || row->new->skipped) { /* rule 1 */
        row->verdict = "skipped";
        snprintf(row->note, sizeof(row->note), "skipped in %s: %s",
                 row->new->skipped ? "new" : "base",
                 row->new->skipped ? row->new->skipped : row->base->skipped);
        return 0;
    }
    b = compare_values(row->base, c->metric, c->keep_disturbed, &row->n_base,
                       &row->failed_base, &row->disturbed_base);
    n = compare_values(row->new, c->metric, c->keep_disturbed, &row->n_new,
                       &row->failed_new, &row->disturbed_new);
    if (row->n_new == 0 && row->failed_new == row->new->nruns) { /* rule 2 */
        row->verdict = "failed";
        snprintf(row->note, sizeof(row->note), "no passed run in new "
                 "(%zu failed)", row->failed_new);
        regression = 1;
        goto out;
    }
    if (row->n_base == 0 && row->failed_base == row->base->nruns) {
        row->verdict = "failed"; /* rule 3 */
        snprintf(row->note, sizeof(row->note), "no passed run in base "
                 "(%zu failed)", row->failed_base);
        goto out;
    }
    if ((row->n_base == 0 && row->disturbed_base) ||
        (row->n_new == 0 && row->disturbed_new)) { /* rule 4a */
        bool in_new = row->n_new == 0 && row->disturbed_new;
        row->verdict = "noisy";
        snprintf(row->note, sizeof(row->note), "every passed run in %s was "
                 "disturbed (%zu)", in_new ? "new" : "base",
                 in_new ? row->disturbed_new : row->disturbed_base);
        goto out;
    }
    if (row->n_base == 0 || row->n_new == 0) { /* rule 4b */
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
    /* The test and the interval shown must agree before a change counts. */
    row->significant = row->p < c->alpha &&
                       (row->ci_lo_pct > 0 || row->ci_hi_pct < 0);

    if (row->significant && row->change_pct > thr) { /* rule 5 */
        row->verdict = "slower";
        regression = 1;
    } else if (row->significant && row->change_pct < -thr) { /* rule 6 */
        row->verdict = "faster";
    } else if (row->significant) { /* rule 7 */
        row->verdict = "unchanged";
        snprintf(row->note, sizeof(row->note), "significant but within the "
                 "%s%% threshold", tb);
    } else if (row->ci_lo_pct >= -thr && row->ci_hi_pct <= thr) { /* 8 */
        row->verdict = "unchanged";
        snprintf(row->note, sizeof(row->note), "95%% CI within \xc2\xb1%s%%",
                 tb);
    } else { /* rule 9 */
        row->verdict = "noisy";
        compare_noisy_note(row, c, !ci_err);
    }
out:
    if ((row->disturbed_base || row->disturbed_new) &&
        strncmp(row->note, "every passed run", 16) != 0) {
        size_t len = strlen(row->note);
        snprintf(row->note + len, sizeof(row->note) - len, "%s%zu+%zu "
                 "disturbed runs left out", len ? "; " : "",
                 row->disturbed_base, row->disturbed_new);
    }
    free(b);
    free(n);
    return regression;
}

/* Appends "; " and a formatted reason to c->why. */
static void compare_why(struct conc_cmp *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void compare_why(struct conc_cmp *c, const char *fmt, ...)
{
    size_t at = strlen(c->why);
    va_list ap;

    if (at && at + 2 < sizeof(c->why)) {
        memcpy(c->why + at, "; ", 3);
        at += 2;
    }
    va_start(ap, fmt);
    vsnprintf(c->why + at, sizeof(c->why) - at, fmt, ap);
    va_end(ap);
}

void compare_conclude(struct conc_cmp *c)
{
    static const char *const stats[] = { "slower", "faster", "unchanged",
                                         "noisy" };

    c->compared = c->noisy = 0;
    c->why[0] = '\0';
    for (size_t i = 0; i < c->nrows; i++)
        for (size_t v = 0; v < 4; v++)
            if (strcmp(c->rows[i].verdict, stats[v]) == 0) {
                c->compared++;
                c->noisy += v == 3;
            }
    c->outcome = "pass";
    c->exit_code = CONC_EXIT_OK;
    if (c->nrows == 0) {
        c->outcome = "fail";
        c->exit_code = CONC_EXIT_FAILED;
        compare_why(c, "no cell of base is in new: nothing was compared");
        return;
    }
    if (c->regressions) {
        c->outcome = "fail";
        c->exit_code = CONC_EXIT_FAILED;
        compare_why(c, "%zu regression%s", c->regressions,
                    c->regressions == 1 ? "" : "s");
    }
    if (c->nonly_base && !c->allow_missing) {
        c->outcome = "fail";
        c->exit_code = CONC_EXIT_FAILED;
        compare_why(c, "%zu cell%s of base missing from new", c->nonly_base,
                    c->nonly_base == 1 ? "" : "s");
    }
    if (2 * c->noisy > c->compared) {
        if (!c->accept_noisy && c->exit_code == CONC_EXIT_OK) {
            c->outcome = "inconclusive";
            c->exit_code = CONC_EXIT_INCONCLUSIVE;
        }
        compare_why(c, "%zu of %zu compared cells noisy%s", c->noisy,
                    c->compared, c->accept_noisy ? " (accepted)" : "");
    }
    if (c->nonly_base && c->allow_missing)
        compare_why(c, "%zu cell%s of base missing from new (allowed)",
                    c->nonly_base, c->nonly_base == 1 ? "" : "s");
}

void compare_closing(const struct conc_cmp *c, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "verdict: %s%s%s", c->outcome,
                                 c->why[0] ? ": " : "", c->why);

    if (c->calib && at < len) {
        char f[32];
        snprintf(buf + at, len - at, "; on this machine changes under %s%% "
                 "cannot be told from noise (calibration '%s')",
                 compare_fmt_thr(f, sizeof(f), c->calib->floor_pct),
                 c->calib->path);
    }
}
