/*
 * Summary statistics over runs. Runs are few (usually 3-30), so sorting a
 * copy is the simplest exact median.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/err.h"
#include "cmd/stats.h"

static int stats_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double stats_sorted_median(const double *s, size_t n)
{
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double conc_median(const double *x, size_t n)
{
    double *s, m;

    if (n == 0)
        return 0;
    s = conc_xmalloc(n * sizeof(*s));
    memcpy(s, x, n * sizeof(*s));
    qsort(s, n, sizeof(*s), stats_cmp);
    m = stats_sorted_median(s, n);
    free(s);
    return m;
}

double conc_t975(size_t df)
{
    /* Student's t, two-sided 95%: exact table to 30, then the normal limit
       with a 1/df correction (error under 0.1%). */
    static const double t[] = {
        0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
        2.262,  2.228,  2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110,
        2.101,  2.093,  2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052,  2.048,  2.045, 2.042,
    };

    if (df == 0)
        return 0;
    if (df < sizeof(t) / sizeof(t[0]))
        return t[df];
    return 1.95996 + 2.4 / (double)df;
}

void conc_summarize(const double *x, size_t n, struct conc_summary *s)
{
    double *d, sum = 0, ss = 0, mad;

    memset(s, 0, sizeof(*s));
    s->n = n;
    if (n == 0)
        return;
    s->min = s->max = x[0];
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        s->min = x[i] < s->min ? x[i] : s->min;
        s->max = x[i] > s->max ? x[i] : s->max;
    }
    s->mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
    s->median = conc_median(x, n);

    double half = n > 1 ? conc_t975(n - 1) * s->stddev / sqrt((double)n) : 0;
    s->ci95_lo = s->mean - half;
    s->ci95_hi = s->mean + half;

    /* Modified z-score 0.6745 * |x - median| / MAD > 3.5 (Iglewicz and
       Hoaglin): robust where a mean/stddev rule is fooled by the outlier. */
    d = conc_xmalloc(n * sizeof(*d));
    for (size_t i = 0; i < n; i++)
        d[i] = fabs(x[i] - s->median);
    mad = conc_median(d, n);
    if (mad > 0)
        for (size_t i = 0; i < n; i++)
            s->outliers += 0.6745 * d[i] / mad > 3.5;
    free(d);
}
