/*
 * Statistics over the timed runs of one cell: mean, stddev, median, min,
 * max, a 95% confidence interval of the mean (Student's t) and outliers by
 * median absolute deviation (kept, counted, shown).
 */
#ifndef CONC_STATS_H
#define CONC_STATS_H

#include <stdbool.h>
#include <stddef.h>

struct conc_summary {
    size_t n;
    double mean, stddev, median, min, max;
    double ci95_lo, ci95_hi; /* of the mean; equal to it when n < 2 */
    size_t outliers;         /* modified z-score above 3.5 (Iglewicz-Hoaglin) */
};

/* Summarizes x[0..n); x is not modified. n may be 0 (all fields zero). */
void conc_summarize(const double *x, size_t n, struct conc_summary *s);

/* The median of x[0..n) (0 when n == 0); x is not modified. */
double conc_median(const double *x, size_t n);

/*
 * The 97.5% quantile of Student's t with df degrees of freedom (the
 * two-sided 95% critical value), computed from the incomplete beta
 * function to about 1e-12; 0 when df is 0.
 */
double conc_t975(size_t df);

/*
 * Two-sided p-value of the Mann-Whitney U test of x[0..m) against y[0..n).
 * Exact (the permutation distribution of the rank sum, midranks for ties)
 * wherever counting it is affordable: any size with a small side, and
 * balanced sides up to about 60 runs each; otherwise (both sides large)
 * the normal approximation with tie and continuity corrections; *exact
 * (may be NULL) says which. 1 when m or n
 * is 0 or every value is tied. x and y are not modified.
 */
double conc_mann_whitney(const double *x, size_t m, const double *y, size_t n,
                         bool *exact);

/*
 * The smallest two-sided p-value Mann-Whitney can reach with m and n
 * values, 2 / C(m + n, m): 5 and 5 runs reach 0.0079, 4 and 4 only 0.029.
 */
double conc_mw_min_p(size_t m, size_t n);

/*
 * Hodges-Lehmann estimate of the shift from x to y, the median of the m*n
 * differences y[j] - x[i], into *est, and Moses' distribution-free interval
 * [*lo, *hi] covering the shift with probability at least conf (0.95), the
 * interval that inverts the Mann-Whitney test. Returns 0, or -EDOM when
 * there are too few values for that level (then *lo = -inf, *hi = +inf)
 * or m or n is 0. Exact for any number of runs: the order statistics of
 * the differences are found by counting, never by listing all m*n.
 */
int conc_hodges_lehmann(const double *x, size_t m, const double *y, size_t n,
                        double conf, double *est, double *lo, double *hi);

#endif
