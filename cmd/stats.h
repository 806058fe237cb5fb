/*
 * Statistics over the timed runs of one cell: mean, stddev, median, min,
 * max, a 95% confidence interval of the mean (Student's t) and outliers by
 * median absolute deviation (kept, counted, shown).
 */
#ifndef CONC_STATS_H
#define CONC_STATS_H

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

/* Two-sided 97.5% quantile of Student's t with df degrees of freedom. */
double conc_t975(size_t df);

#endif
