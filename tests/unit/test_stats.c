/*
 * Run statistics: mean, stddev, median, the t-based 95% interval and
 * outliers by median absolute deviation.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "cmd/stats.h"

Test(stats, known_values, .timeout = 10)
{
    const double x[] = { 2, 4, 4, 4, 5, 5, 7, 9 };
    struct conc_summary s;

    conc_summarize(x, 8, &s);
    cr_assert_eq(s.n, 8);
    cr_assert_float_eq(s.mean, 5.0, 1e-12);
    cr_assert_float_eq(s.stddev, sqrt(32.0 / 7), 1e-12);
    cr_assert_float_eq(s.median, 4.5, 1e-12);
    cr_assert_eq(s.min, 2);
    cr_assert_eq(s.max, 9);
    /* t(0.975, 7) = 2.364624251592785 (the exact quantile, not a table's
       three decimals). */
    double half = 2.364624251592785 * sqrt(32.0 / 7) / sqrt(8);
    cr_assert_float_eq(s.ci95_lo, 5 - half, 1e-9);
    cr_assert_float_eq(s.ci95_hi, 5 + half, 1e-9);
    /* MAD is 0.5 here, so 9 scores 0.6745 * 4.5 / 0.5 = 6.1 (an outlier)
       and 2 and 7 score 3.4 (not). */
    cr_assert_eq(s.outliers, 1);
}

Test(stats, one_and_none, .timeout = 10)
{
    const double x[] = { 3 };
    struct conc_summary s;

    conc_summarize(x, 1, &s);
    cr_assert_eq(s.mean, 3);
    cr_assert_eq(s.stddev, 0);
    cr_assert_eq(s.ci95_lo, 3);
    cr_assert_eq(s.ci95_hi, 3);
    conc_summarize(x, 0, &s);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(s.mean, 0);
}

Test(stats, mad_outliers, .timeout = 10)
{
    const double x[] = { 100, 101, 99, 100, 102, 98, 100, 250 };
    const double y[] = { 100, 101, 99, 100, 102, 98, 100, 103 };
    struct conc_summary s;

    conc_summarize(x, 8, &s);
    cr_assert_eq(s.outliers, 1, "250 among ~100s is an outlier");
    cr_assert_eq(s.max, 250, "outliers are kept");
    conc_summarize(y, 8, &s);
    cr_assert_eq(s.outliers, 0);
}

Test(stats, t_quantiles, .timeout = 10)
{
    cr_assert_float_eq(conc_t975(1), 12.706, 1e-3);
    cr_assert_float_eq(conc_t975(10), 2.228, 1e-3);
    cr_assert_float_eq(conc_t975(30), 2.042, 1e-3);
    cr_assert(fabs(conc_t975(60) - 2.000) < 0.003);
    cr_assert(fabs(conc_t975(1000) - 1.962) < 0.002);
}

/* Student's t density with df degrees of freedom. */
static double t_density(double t, double df)
{
    return exp(lgamma((df + 1) / 2) - lgamma(df / 2) -
               0.5 * log(df * M_PI) - (df + 1) / 2 * log1p(t * t / df));
}

/*
 * The quantile against an independent reference: the density integrated
 * from 0 to it by composite Simpson must be 0.475, to 1e-9, for every df
 * (the old table-and-1/df rule was off by up to 3e-3 past df 30).
 */
Test(stats, t_quantile_integrates_to_0975, .timeout = 20)
{
    static const size_t dfs[] = { 1, 2, 3, 5, 7, 10, 29, 30, 31, 45, 60,
                                  100, 250, 1000, 100000 };

    for (size_t k = 0; k < sizeof(dfs) / sizeof(dfs[0]); k++) {
        double df = (double)dfs[k], q = conc_t975(dfs[k]), h, sum;
        enum { STEPS = 200000 };

        h = q / STEPS;
        sum = t_density(0, df) + t_density(q, df);
        for (int i = 1; i < STEPS; i++)
            sum += (i % 2 ? 4 : 2) * t_density(i * h, df);
        cr_assert(fabs(sum * h / 3 - 0.475) < 1e-9,
                  "df %zu: quantile %.12f integrates to %.12f", dfs[k], q,
                  sum * h / 3);
    }
}

Test(stats, outliers_when_most_runs_tie, .timeout = 10)
{
    const double x[] = { 100, 100, 100, 100, 100, 100, 100, 100, 100, 200 };
    const double y[] = { 100, 100, 100, 100, 100, 100, 101, 101, 101, 101 };
    struct conc_summary s;

    /* MAD is 0 here: the mean absolute deviation stands in. */
    conc_summarize(x, 10, &s);
    cr_assert_eq(s.outliers, 1, "200 among nine 100s is an outlier");
    conc_summarize(y, 10, &s);
    cr_assert_eq(s.outliers, 0, "two close values are no outliers");
}

Test(stats, median_odd_even, .timeout = 10)
{
    const double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 };

    cr_assert_eq(conc_median(odd, 3), 3);
    cr_assert_eq(conc_median(even, 4), 2.5);
}

/*
 * Mann-Whitney against independent references: the p-value recounted here
 * by enumerating every way to split the pooled runs (U counted pair by
 * pair, ties as one half), and beyond what enumeration reaches, by a
 * separate count of the U distribution over tie groups. Never numbers
 * copied from concbench's own output.
 */
#include <stdbool.h>
#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* U of the first m of v[0..N) against the rest, counted pair by pair. */
static double ref_u(const double *v, const unsigned char *in, size_t N)
{
    double u = 0;

    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            if (in[i] && !in[j])
                u += v[i] < v[j] ? 1 : v[i] == v[j] ? 0.5 : 0;
    return u;
}

/* Two-sided p by enumerating every choice of m of the N values. */
static double ref_p_enumerate(const double *v, size_t m, size_t N)
{
    unsigned char *in = calloc(N, 1);
    size_t *pick = calloc(m, sizeof(*pick));
    double u0, le = 0, ge = 0, total = 0;

    for (size_t i = 0; i < m; i++)
        in[i] = 1;
    u0 = ref_u(v, in, N);
    for (size_t i = 0; i < m; i++)
        pick[i] = i;
    for (;;) {
        double u;
        memset(in, 0, N);
        for (size_t i = 0; i < m; i++)
            in[pick[i]] = 1;
        u = ref_u(v, in, N);
        total++;
        le += u <= u0 + 1e-9;
        ge += u >= u0 - 1e-9;
        /* Next combination in lexicographic order. */
        size_t i = m;
        while (i > 0 && pick[i - 1] == N - m + i - 1)
            i--;
        if (i == 0)
            break;
        pick[i - 1]++;
        for (size_t j = i; j < m; j++)
            pick[j] = pick[j - 1] + 1;
    }
    free(in);
    free(pick);
    return fmin(1, 2 * fmin(le, ge) / total);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * Two-sided p from the distribution of 2U itself, counted over tie groups:
 * choosing j of a group of t values at sorted position `below` (values
 * under it) adds j * (2 * below_rest ...) to 2U. Here done as the classic
 * count of 2U = sum over chosen values of (2 * larger-than-it in the rest
 * + equal-in-the-rest), rebuilt from scratch with the group sizes.
 */
static double ref_p_groups(const double *v, size_t m, size_t N)
{
    double *s = malloc(N * sizeof(*s));
    size_t g = 0, *size = calloc(N, sizeof(*size));
    double *val = calloc(N, sizeof(*val));
    double u0 = 0, le = 0, ge = 0, total = 0;

    memcpy(s, v, N * sizeof(*s));
    qsort(s, N, sizeof(*s), cmp_d);
    for (size_t i = 0; i < N; i++) {
        if (i == 0 || s[i] != s[i - 1])
            val[g++] = s[i];
        size[g - 1]++;
    }
    /* 2U for chosen set C = sum over c in C of 2*#(rest > c) + #(rest == c).
       With a_k chosen from group k: 2U = sum_k a_k * (2 * (values above k
       not chosen) + (size_k - a_k)). Count by groups from the top down,
       tracking (chosen so far, 2U so far, chosen above). */
    size_t Umax = 2 * m * (N - m) + 1;
    /* dp[c][u]: ways with c chosen among the groups done, 2U = u; the
       number of unchosen values above is (done values - c). */
    double *dp = calloc((m + 1) * Umax, sizeof(*dp)), *nx;
    size_t done = 0;
    dp[0] = 1;
    nx = calloc((m + 1) * Umax, sizeof(*nx));
    for (size_t k = g; k-- > 0;) {
        memset(nx, 0, (m + 1) * Umax * sizeof(*nx));
        for (size_t c = 0; c <= m && c <= done; c++)
            for (size_t u = 0; u < Umax; u++) {
                double w = dp[c * Umax + u], binom = 1;
                if (w == 0)
                    continue;
                for (size_t a = 0; a <= size[k] && c + a <= m; a++) {
                    size_t add = a * (2 * (done - c) + (size[k] - a));
                    if (a > 0)
                        binom = binom * (double)(size[k] - a + 1) / (double)a;
                    if (u + add < Umax)
                        nx[(c + a) * Umax + u + add] += w * binom;
                }
            }
        memcpy(dp, nx, (m + 1) * Umax * sizeof(*dp));
        done += size[k];
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = m; j < N; j++)
            u0 += v[i] < v[j] ? 2 : v[i] == v[j] ? 1 : 0;
    for (size_t u = 0; u < Umax; u++) {
        double w = dp[m * Umax + u];
        total += w;
        le += (double)u <= u0 ? w : 0;
        ge += (double)u >= u0 ? w : 0;
    }
    free(s);
    free(size);
    free(val);
    free(dp);
    free(nx);
    return fmin(1, 2 * fmin(le, ge) / total);
}

/* m then n values, with `levels` distinct values (0: continuous). */
static double *sample(size_t m, size_t n, int levels, double shift)
{
    double *v = malloc((m + n) * sizeof(*v));

    for (size_t i = 0; i < m + n; i++) {
        double r = levels ? floor(urand() * levels) : urand();
        v[i] = r + (i >= m ? shift * urand() : 0);
    }
    return v;
}

Test(mann_whitney_reference, a_small_side_is_counted_exactly, .timeout = 60)
{
    /* 2 clean base runs against 59 new ones: the exact p is 2/C(61,2). */
    double v[61];
    bool exact;

    for (int i = 0; i < 61; i++)
        v[i] = i < 2 ? 100 + i : 110 + i;
    double p = conc_mann_whitney(v, 2, v + 2, 59, &exact);
    cr_assert(exact);
    cr_assert(fabs(p - 2.0 / 1830) < 1e-12, "p %.6g, exact %.6g", p,
              2.0 / 1830);
    cr_assert(fabs(p - ref_p_enumerate(v, 2, 61)) < 1e-12);
    /* A small side against many, heavily tied, either way round. */
    for (int t = 0; t < 6; t++) {
        size_t m = 2 + (size_t)t % 2, n = 60 + 10 * (size_t)t;
        double *w = sample(m, n, 2 + t % 3, 0.5), ref = ref_p_enumerate(w, m,
                                                                       m + n);
        p = conc_mann_whitney(w, m, w + m, n, &exact);
        cr_assert(exact);
        cr_assert(fabs(p - ref) < 1e-9, "%zu vs %zu: p %.9f, reference %.9f",
                  m, n, p, ref);
        p = conc_mann_whitney(w + m, n, w, m, &exact);
        cr_assert(fabs(p - ref) < 1e-9, "swapped: p %.9f, reference %.9f", p,
                  ref);
        free(w);
    }
}

Test(mann_whitney_reference, small_balanced_with_ties_match_enumeration,
     .timeout = 60)
{
    for (int t = 0; t < 40; t++) {
        size_t m = 3 + (size_t)t % 5, n = 3 + (size_t)(t * 7) % 6;
        double *v = sample(m, n, t % 4 ? 3 + t % 3 : 0, 0.7);
        bool exact;
        double p = conc_mann_whitney(v, m, v + m, n, &exact),
               ref = ref_p_enumerate(v, m, m + n);
        cr_assert(exact);
        cr_assert(fabs(p - ref) < 1e-12, "%zu vs %zu: p %.12f, ref %.12f", m,
                  n, p, ref);
        cr_assert(fabs(ref_p_groups(v, m, m + n) - ref) < 1e-12,
                  "the group count agrees with enumeration");
        free(v);
    }
}

Test(mann_whitney_reference, balanced_and_large_stay_within_1e3,
     .timeout = 120)
{
    /* Sizes on both sides of the exact budget, ties heavy and none; the
       reference is the group count above, independent of stats.c. */
    static const struct { size_t m, n; int levels; } cases[] = {
        { 40, 40, 3 }, { 70, 70, 0 }, { 90, 90, 3 }, { 90, 90, 0 },
        { 120, 100, 4 }, { 20, 400, 2 },
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
        for (int t = 0; t < 2; t++) {
            size_t m = cases[c].m, n = cases[c].n;
            double *v = sample(m, n, cases[c].levels, 0.35);
            bool exact;
            double p = conc_mann_whitney(v, m, v + m, n, &exact),
                   ref = ref_p_groups(v, m, m + n);
            cr_assert(fabs(p - ref) < 1e-3,
                      "%zu vs %zu (%d levels, %s): p %.6f, reference %.6f",
                      m, n, cases[c].levels, exact ? "exact" : "normal", p,
                      ref);
            if (exact)
                cr_assert(fabs(p - ref) < 1e-9);
            free(v);
        }
}

Test(hodges_lehmann_reference, exact_for_thousands_of_runs, .timeout = 60)
{
    /* 3,000 against 40 runs: every difference listed and sorted here. */
    enum { M = 3000, N = 40 };
    static double x[M], y[N], d[M * N];
    double est, lo, hi, med;
    size_t rlo = 0, rhi = 0;

    for (int i = 0; i < M; i++)
        x[i] = 100 + 10 * urand();
    for (int j = 0; j < N; j++)
        y[j] = 103 + 10 * urand();
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            d[i * N + j] = y[j] - x[i];
    qsort(d, M * N, sizeof(*d), cmp_d);
    med = (d[M * N / 2 - 1] + d[M * N / 2]) / 2;
    cr_assert_eq(conc_hodges_lehmann(x, M, y, N, 0.95, &est, &lo, &hi), 0);
    cr_assert_eq(est, med, "estimate %.9f, exact median %.9f", est, med);
    /* The interval's ends are differences, symmetric in rank. */
    for (size_t k = 0; k < (size_t)M * N; k++) {
        if (d[k] == lo && !rlo)
            rlo = k + 1;
        if (d[k] == hi)
            rhi = k + 1;
    }
    cr_assert(rlo && rhi, "the ends are differences");
    cr_assert_eq(rlo, (size_t)M * N + 1 - rhi, "ranks %zu and %zu", rlo, rhi);
    cr_assert(lo < 3 && hi > 3 && hi - lo < 3,
              "[%f, %f] around the shift of 3", lo, hi);
}
