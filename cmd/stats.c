/*
 * Summary statistics over runs. Runs are few (usually 3-30), so sorting a
 * copy is the simplest exact median.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
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

/*
 * The regularized incomplete beta function I_x(a, b), by its continued
 * fraction (modified Lentz), as in Numerical Recipes' betacf: relative
 * error near 1e-14, which the t quantile below inherits.
 */
static double stats_betacf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1), h;

    d = fabs(d) < tiny ? tiny : d;
    d = 1 / d;
    h = d;
    for (int m = 1; m <= 500; m++) {
        double m2 = 2.0 * m, aa, del;

        aa = m * (b - m) * x / ((a - 1 + m2) * (a + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2));
        d = 1 + aa * d;
        d = fabs(d) < tiny ? tiny : d;
        c = 1 + aa / c;
        c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15)
            break;
    }
    return h;
}

static double stats_betai(double a, double b, double x)
{
    double front;

    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) +
                b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * stats_betacf(a, b, x) / a;
    return 1 - front * stats_betacf(b, a, 1 - x) / b;
}

/* P(T > t) for Student's t with df degrees of freedom, t >= 0. */
static double stats_t_upper(double t, double df)
{
    return stats_betai(df / 2, 0.5, df / (df + t * t)) / 2;
}

double conc_t975(size_t df)
{
    double lo = 0, hi = 1e3;

    if (df == 0)
        return 0;
    /* Bisection to the last bit: P(T > t) falls as t grows. The quantile
       for df = 1 is 12.706, well inside [0, 1000]. */
    for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (stats_t_upper(mid, (double)df) > 0.025)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
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
       Hoaglin): robust where a mean/stddev rule is fooled by the outlier.
       When more than half the runs are equal, MAD is 0 and says nothing;
       then the mean absolute deviation stands in, scaled to match
       (|x - median| / (1.253314 * MeanAD) > 3.5, as IBM SPSS and
       Iglewicz-Hoaglin's successors do), so 9 equal runs and one twice as
       long still show one outlier. */
    d = conc_xmalloc(n * sizeof(*d));
    for (size_t i = 0; i < n; i++)
        d[i] = fabs(x[i] - s->median);
    mad = conc_median(d, n);
    if (mad > 0) {
        for (size_t i = 0; i < n; i++)
            s->outliers += 0.6745 * d[i] / mad > 3.5;
    } else {
        double meanad = 0;
        for (size_t i = 0; i < n; i++)
            meanad += d[i] / (double)n;
        if (meanad > 0)
            for (size_t i = 0; i < n; i++)
                s->outliers += d[i] / (1.253314 * meanad) > 3.5;
    }
    free(d);
}

/*
 * Mann-Whitney U and Hodges-Lehmann, for `compare`. The p-value is exact
 * wherever it can be counted: the permutation distribution of the smaller
 * side's rank sum, counted by dynamic programming over tie groups of
 * doubled midranks (integers), which stays exact with ties. Counting costs
 * about (values, or tie groups) * m * S steps, m the smaller side and S its
 * largest possible doubled rank sum (about 2 N m); up to STATS_MW_EXACT_COST
 * steps (about 0.1 s) it is counted. That covers any size with a small side
 * (2 runs against 1,000, 10 against 300) and balanced sides up to about 60
 * runs each, ties or not. Past that both sides are large and the normal
 * approximation with tie and continuity corrections is used, within 2e-3
 * of the exact p as tests/unit/test_stats.c measures against a permutation
 * reference.
 */
#ifndef STATS_MW_EXACT_COST
#define STATS_MW_EXACT_COST 2e8
#endif

/* The pooled sample's doubled midranks, and its tie groups in rank order. */
struct stats_ranks {
    unsigned *r2;       /* [N]: x's values first, then y's */
    unsigned *grank;    /* [ngroups]: each group's doubled midrank */
    size_t *gsize;      /* [ngroups]: how many values share it */
    size_t N, ngroups;
    double ties;        /* sum of t^3 - t over the groups */
};

static const double *stats_sort_by;

static int stats_cmp_idx(const void *a, const void *b)
{
    double x = stats_sort_by[*(const size_t *)a];
    double y = stats_sort_by[*(const size_t *)b];
    return (x > y) - (x < y);
}

static void stats_ranks_fini(struct stats_ranks *r)
{
    free(r->r2);
    free(r->grank);
    free(r->gsize);
}

/* Ranks x[0..m) and y[0..n) together into r (free with stats_ranks_fini). */
static void stats_ranks_init(struct stats_ranks *r, const double *x, size_t m,
                             const double *y, size_t n)
{
    size_t N = m + n;
    double *v = conc_xmalloc(N * sizeof(*v));
    size_t *idx = conc_xmalloc(N * sizeof(*idx));

    memset(r, 0, sizeof(*r));
    r->N = N;
    r->r2 = conc_xmalloc(N * sizeof(*r->r2));
    r->grank = conc_xmalloc(N * sizeof(*r->grank));
    r->gsize = conc_xmalloc(N * sizeof(*r->gsize));
    for (size_t i = 0; i < N; i++) {
        v[i] = i < m ? x[i] : y[i - m];
        idx[i] = i;
    }
    /* Only compare runs here, one thread: the static sort key is safe. */
    stats_sort_by = v;
    qsort(idx, N, sizeof(*idx), stats_cmp_idx);
    for (size_t a = 0; a < N;) {
        size_t b = a;
        double t;

        while (b + 1 < N && v[idx[b + 1]] == v[idx[a]])
            b++;
        /* Positions a..b (0-based) share the midrank (a+1 + b+1) / 2. */
        for (size_t j = a; j <= b; j++)
            r->r2[idx[j]] = (unsigned)(a + b + 2);
        r->grank[r->ngroups] = (unsigned)(a + b + 2);
        r->gsize[r->ngroups++] = b - a + 1;
        t = (double)(b - a + 1);
        r->ties += t * t * t - t;
        a = b + 1;
    }
    free(v);
    free(idx);
}

/* The largest sum of k doubled ranks: the top k of them. */
static size_t stats_top_sum(const struct stats_ranks *r, size_t k)
{
    size_t sum = 0;

    for (size_t g = r->ngroups; g-- > 0 && k;) {
        size_t take = r->gsize[g] < k ? r->gsize[g] : k;
        sum += take * r->grank[g];
        k -= take;
    }
    return sum;
}

/* Whether counting the distribution for k of r's values is affordable. */
static bool stats_mw_exact_ok(const struct stats_ranks *r, size_t k)
{
    double steps = 0, width = (double)stats_top_sum(r, k) + 1;

    for (size_t g = 0; g < r->ngroups; g++)
        steps += (double)(r->gsize[g] < k ? r->gsize[g] : k) * (double)k *
                 width;
    return steps <= STATS_MW_EXACT_COST;
}

/*
 * The permutation distribution of the sum of k of r's doubled ranks:
 * cnt[s] ways for each sum s in [0, *smax]. Returns cnt (caller frees).
 */
static double *stats_ranksum_dist(const struct stats_ranks *r, size_t k,
                                  size_t *smax)
{
    size_t S = stats_top_sum(r, k), W = S + 1, seen = 0;
    double *dp, *cnt;

    *smax = S;
    /* dp[c * W + s]: ways to choose c of the values seen so far with sum
       s. A group of t values of rank g adds j of them in C(t, j) ways;
       walking c downwards reads only rows this group has not touched. */
    dp = conc_xcalloc((k + 1) * W, sizeof(*dp));
    dp[0] = 1;
    for (size_t g = 0; g < r->ngroups; g++) {
        size_t t = r->gsize[g], rank = r->grank[g];
        size_t jmax = t < k ? t : k;

        seen += t;
        for (size_t c = (seen < k ? seen : k); c >= 1; c--) {
            double *to = dp + c * W, coef = 1;
            for (size_t j = 1; j <= jmax && j <= c; j++) {
                const double *from = dp + (c - j) * W;
                size_t shift = j * rank;
                /* C(t, j), built up one factor at a time. */
                coef = coef * (double)(t - j + 1) / (double)j;
                for (size_t s = S; s >= shift; s--)
                    to[s] += from[s - shift] * coef;
            }
        }
    }
    cnt = conc_xmalloc(W * sizeof(*cnt));
    memcpy(cnt, dp + k * W, W * sizeof(*cnt));
    free(dp);
    return cnt;
}

double conc_mann_whitney(const double *x, size_t m, const double *y, size_t n,
                         bool *exact)
{
    size_t N = m + n, small = m < n ? m : n, w2 = 0;
    struct stats_ranks r;
    double p;

    if (exact)
        *exact = false;
    if (m == 0 || n == 0)
        return 1;
    stats_ranks_init(&r, x, m, y, n);
    if (stats_mw_exact_ok(&r, small)) {
        /* The smaller side's rank sum: its distribution is the cheaper one
           to count, and the two-sided p is the same from either side. */
        size_t first = m <= n ? 0 : m, smax;
        double *cnt, total = 0, le = 0, ge = 0;

        for (size_t i = first; i < first + small; i++)
            w2 += r.r2[i];
        cnt = stats_ranksum_dist(&r, small, &smax);
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
        double mn = (double)m * (double)n, u, var, z;

        for (size_t i = 0; i < m; i++)
            w2 += r.r2[i];
        u = (double)w2 / 2 - (double)m * (double)(m + 1) / 2;
        var = mn / 12 *
              ((double)N + 1 - r.ties / ((double)N * (double)(N - 1)));
        if (var <= 0) {
            stats_ranks_fini(&r);
            return 1; /* every value tied: no evidence either way */
        }
        z = (fabs(u - mn / 2) - 0.5) / sqrt(var);
        p = erfc((z > 0 ? z : 0) / sqrt(2.0));
    }
    stats_ranks_fini(&r);
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
    size_t N = m + n, small = m < n ? m : n;
    struct stats_ranks r;
    size_t k = 0;
    double z, kk;

    /* The untied null: ranks 1..N, doubled. */
    memset(&r, 0, sizeof(r));
    r.N = r.ngroups = N;
    r.grank = conc_xmalloc(N * sizeof(*r.grank));
    r.gsize = conc_xmalloc(N * sizeof(*r.gsize));
    for (size_t i = 0; i < N; i++) {
        r.grank[i] = (unsigned)(2 * (i + 1));
        r.gsize[i] = 1;
    }
    if (stats_mw_exact_ok(&r, small)) {
        size_t smax, base = small * (small + 1); /* doubled minimum sum */
        double *cnt = stats_ranksum_dist(&r, small, &smax), total = 0,
               cum = 0;

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
        stats_ranks_fini(&r);
        return k;
    }
    stats_ranks_fini(&r);
    z = stats_normal_upper(tail);
    kk = floor(mn / 2 - z * sqrt(mn * (double)(N + 1) / 12));
    return kk < 1 ? 0 : (size_t)kk;
}

/* A sorted copy of x[0..n). */
static double *stats_sorted(const double *x, size_t n)
{
    double *s = conc_xmalloc(n * sizeof(*s));

    memcpy(s, x, n * sizeof(*s));
    qsort(s, n, sizeof(*s), stats_cmp);
    return s;
}

/*
 * How many of the m*n differences ys[j] - xs[i] are <= d, both sorted
 * ascending, in O(m + n): as xs[i] grows every difference shrinks (the
 * rounded subtraction is monotone too), so the first j past d only moves
 * right.
 */
static size_t stats_count_le(const double *xs, size_t m, const double *ys,
                             size_t n, double d)
{
    size_t count = 0, j = 0;

    for (size_t i = 0; i < m; i++) {
        while (j < n && ys[j] - xs[i] <= d)
            j++;
        count += j;
    }
    return count;
}

/* Doubles as integers in the same order (no NaNs here). */
static uint64_t stats_key(double d)
{
    uint64_t b;

    memcpy(&b, &d, sizeof(b));
    return b >> 63 ? ~b : b | (1ull << 63);
}

static double stats_unkey(uint64_t k)
{
    uint64_t b = k >> 63 ? k & ~(1ull << 63) : ~k;
    double d;

    memcpy(&d, &b, sizeof(d));
    return d;
}

/*
 * The k-th smallest (1-based) of the m*n differences ys[j] - xs[i], found
 * without listing them: a binary search over the doubles between the
 * smallest and the largest difference for the least d with at least k
 * differences <= d, which is itself a difference. About 64 counts of
 * O(m + n) each, so any number of runs is exact and cheap.
 */
static double stats_kth_diff(const double *xs, size_t m, const double *ys,
                             size_t n, size_t k)
{
    uint64_t lo = stats_key(ys[0] - xs[m - 1]), hi = stats_key(ys[n - 1] - xs[0]);

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (stats_count_le(xs, m, ys, n, stats_unkey(mid)) >= k)
            hi = mid;
        else
            lo = mid + 1;
    }
    return stats_unkey(lo);
}

int conc_hodges_lehmann(const double *x, size_t m, const double *y, size_t n,
                        double conf, double *est, double *lo, double *hi)
{
    double *xs, *ys;
    size_t pairs, k;
    int err = 0;

    *est = 0;
    *lo = -INFINITY;
    *hi = INFINITY;
    if (m == 0 || n == 0)
        return -EDOM;
    xs = stats_sorted(x, m);
    ys = stats_sorted(y, n);
    pairs = m * n;
    if (pairs % 2)
        *est = stats_kth_diff(xs, m, ys, n, pairs / 2 + 1);
    else
        *est = (stats_kth_diff(xs, m, ys, n, pairs / 2) +
                stats_kth_diff(xs, m, ys, n, pairs / 2 + 1)) / 2;
    k = stats_moses_k(m, n, conf);
    if (k == 0) {
        err = -EDOM;
    } else {
        *lo = stats_kth_diff(xs, m, ys, n, k);
        *hi = stats_kth_diff(xs, m, ys, n, pairs + 1 - k);
    }
    free(xs);
    free(ys);
    return err;
}
