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
    double half = 2.365 * sqrt(32.0 / 7) / sqrt(8);
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

Test(stats, median_odd_even, .timeout = 10)
{
    const double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 };

    cr_assert_eq(conc_median(odd, 3), 3);
    cr_assert_eq(conc_median(even, 4), 2.5);
}
