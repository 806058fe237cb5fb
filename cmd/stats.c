/*
 * Summary statistics over runs. Runs are few (usually 3-30), so sorting a
 * copy is the simplest exact median.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/stats.h"
#include "lib/err.h"

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

/*
 * Mann-Whitney U and Hodges-Lehmann, for `compare`. Runs per side are few,
 * so the p-value is exact where it matters: the permutation distribution of
 * the rank sum is counted by dynamic programming over doubled midranks
 * (integers), which stays exact with ties. Past STATS_MW_EXACT_MAX values
 * the normal approximation with tie and continuity corrections is within
 * 1e-3 of it.
 */
#define STATS_MW_EXACT_MAX 60

/* Doubled midranks of x then y in the pooled sample: r2[0..m+n). */
static double stats_doubled_ranks(const double *x, size_t m, const double *y,
                                  size_t n, unsigned *r2)
{
    size_t N = m + n;
    double *v = conc_xmalloc(N * sizeof(*v)), ties = 0;
    size_t *idx = conc_xmalloc(N * sizeof(*idx));

    for (size_t i = 0; i < N; i++) {
        v[i] = i < m ? x[i] : y[i - m];
        idx[i] = i;
    }
    /* Insertion sort of indices by value: N is at most a few hundred. */
    for (size_t i = 1; i < N; i++) {
        size_t k = idx[i], j = i;
        while (j > 0 && v[idx[j - 1]] > v[k]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = k;
    }
    for (size_t a = 0; a < N;) {
        size_t b = a;
        while (b + 1 < N && v[idx[b + 1]] == v[idx[a]])
            b++;
        /* Positions a..b (0-based) share the midrank (a+1 + b+1) / 2. */
        for (size_t j = a; j <= b; j++)
            r2[idx[j]] = (unsigned)(a + b + 2);
        double t = (double)(b - a + 1);
        ties += t * t * t - t;
        a = b + 1;
    }
    free(v);
    free(idx);
    return ties;
}

/*
 * The permutation distribution of the sum of m of the N doubled ranks r2:
 * cnt[s] ways for each sum s in [0, smax]. Returns cnt (caller frees).
 */
static double *stats_ranksum_dist(const unsigned *r2, size_t N, size_t m,
                                  size_t *smax)
{
    size_t S = 0;
    double *dp, *cnt;

    for (size_t i = 0; i < N; i++)
        S += r2[i];
    *smax = S;
    /* dp[k * (S+1) + s]: ways to choose k of the ranks seen so far with
       sum s. Walking k downwards lets each rank be used once. */
    dp = conc_xcalloc((m + 1) * (S + 1), sizeof(*dp));
    dp[0] = 1;
    for (size_t i = 0; i < N; i++) {
        size_t top = i + 1 < m ? i + 1 : m;
        for (size_t k = top; k >= 1; k--) {
            double *to = dp + k * (S + 1), *from = dp + (k - 1) * (S + 1);
            for (size_t s = S; s >= r2[i]; s--)
                to[s] += from[s - r2[i]];
        }
    }
    cnt = conc_xmalloc((S + 1) * sizeof(*cnt));
    memcpy(cnt, dp + m * (S + 1), (S + 1) * sizeof(*cnt));
    free(dp);
    return cnt;
}

double conc_mann_whitney(const double *x, size_t m, const double *y, size_t n,
                         bool *exact)
{
    size_t N = m + n, w2 = 0;
    unsigned *r2;
    double ties, p;

    if (exact)
        *exact = false;
    if (m == 0 || n == 0)
        return 1;
    r2 = conc_xmalloc(N * sizeof(*r2));
    ties = stats_doubled_ranks(x, m, y, n, r2);
    for (size_t i = 0; i < m; i++)
        w2 += r2[i];
    if (N <= STATS_MW_EXACT_MAX) {
        size_t smax;
        double *cnt = stats_ranksum_dist(r2, N, m, &smax), total = 0, le = 0,
               ge = 0;

        for (size_t s = 0; s <= smax; s++) {
            total += cnt[s];
            le += s <= w2 ? cnt[s] : 0;
            ge += s >= w2 ? cnt[s] : 0;
        }
        free(cnt);
        p = 2 * (le < ge ? le : ge) / total;
        if (exact)
            *exact = true;
    } else {
        double mn = (double)m * (double)n, u = (double)w2 / 2 -
                                               (double)m * (double)(m + 1) / 2;
        double var = mn / 12 *
                     ((double)N + 1 - ties / ((double)N * (double)(N - 1)));
        double z;

        if (var <= 0) {
            free(r2);
            return 1; /* every value tied: no evidence either way */
        }
        z = (fabs(u - mn / 2) - 0.5) / sqrt(var);
        p = erfc((z > 0 ? z : 0) / sqrt(2.0));
    }
    free(r2);
    return p > 1 ? 1 : p;
}

double conc_mw_min_p(size_t m, size_t n)
{
    /* 2 / C(m+n, m): the two extreme orderings, one per tail. */
    double c = 1;

    if (m == 0 || n == 0)
        return 1;
    for (size_t i = 1; i <= m; i++)
        c = c * (double)(n + i) / (double)i;
    return 2 / c > 1 ? 1 : 2 / c;
}

/* The upper quantile of the standard normal for tail probability q. */
static double stats_normal_upper(double q)
{
    double lo = 0, hi = 40;

    /* Bisection on erfc is slow but exact enough and runs once per cell. */
    for (int i = 0; i < 200; i++) {
        double mid = (lo + hi) / 2;
        if (erfc(mid / sqrt(2.0)) / 2 > q)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/*
 * Moses' k: the largest k with P(U <= k - 1) <= (1 - conf) / 2 under the
 * null with no ties, so [d_(k), d_(mn+1-k)] covers the shift with at least
 * probability conf. 0 when no k qualifies (too few values).
 */
static size_t stats_moses_k(size_t m, size_t n, double conf)
{
    double tail = (1 - conf) / 2, mn = (double)m * (double)n;
    size_t N = m + n;

    if (N <= STATS_MW_EXACT_MAX) {
        unsigned *r2 = conc_xmalloc(N * sizeof(*r2));
        size_t smax, k = 0, base = m * (m + 1); /* doubled minimum sum */
        double *cnt, total = 0, cum = 0;

        for (size_t i = 0; i < N; i++)
            r2[i] = (unsigned)(2 * (i + 1));
        cnt = stats_ranksum_dist(r2, N, m, &smax);
        for (size_t s = 0; s <= smax; s++)
            total += cnt[s];
        /* U = (W2 - base) / 2 takes each integer 0..mn once per step of 2. */
        for (size_t u = 0; base + 2 * u <= smax; u++) {
            cum += cnt[base + 2 * u];
            if (cum / total > tail)
                break;
            k = u + 1;
        }
        free(cnt);
        free(r2);
        return k;
    }
    double z = stats_normal_upper(tail);
    double k = floor(mn / 2 - z * sqrt(mn * (double)(N + 1) / 12));
    return k < 1 ? 0 : (size_t)k;
}

/* An evenly spaced subsample of the sorted x, at most max values. */
static double *stats_thin(const double *x, size_t n, size_t max, size_t *out_n)
{
    double *s = conc_xmalloc(n * sizeof(*s)), *t;

    memcpy(s, x, n * sizeof(*s));
    qsort(s, n, sizeof(*s), stats_cmp);
    if (n <= max) {
        *out_n = n;
        return s;
    }
    t = conc_xmalloc(max * sizeof(*t));
    for (size_t i = 0; i < max; i++)
        t[i] = s[(size_t)(((double)i + 0.5) * (double)n / (double)max)];
    free(s);
    *out_n = max;
    return t;
}

int conc_hodges_lehmann(const double *x, size_t m, const double *y, size_t n,
                        double conf, double *est, double *lo, double *hi)
{
    double *xs, *ys, *d;
    size_t mm, nn, pairs, k;
    int err = 0;

    *est = 0;
    *lo = -INFINITY;
    *hi = INFINITY;
    if (m == 0 || n == 0)
        return -EDOM;
    /* Thousands of runs per side would need gigabytes of differences; an
       evenly spaced subsample keeps the estimate and widens nothing. */
    xs = stats_thin(x, m, 2048, &mm);
    ys = stats_thin(y, n, 2048, &nn);
    pairs = mm * nn;
    d = conc_xmalloc(pairs * sizeof(*d));
    for (size_t i = 0; i < mm; i++)
        for (size_t j = 0; j < nn; j++)
            d[i * nn + j] = ys[j] - xs[i];
    qsort(d, pairs, sizeof(*d), stats_cmp);
    *est = stats_sorted_median(d, pairs);
    k = stats_moses_k(mm, nn, conf);
    if (k == 0) {
        err = -EDOM;
    } else {
        *lo = d[k - 1];
        *hi = d[pairs - k];
    }
    free(d);
    free(xs);
    free(ys);
    return err;
}
