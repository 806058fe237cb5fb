/*
 * The open-loop http schedule: uniform and poisson arrivals hold their mean
 * rate, tasks' shares merge into the run's rate, the seed makes a schedule
 * repeatable; and the histogram's p99.9.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

#include "lib/clock.h"
#include "lib/hist.h"
#include "workloads/http.h"

/* Requests per second over the first n of one task's schedule. */
static double one_task_rate(double rate, bool poisson, uint64_t seed,
                            unsigned n)
{
    struct http_sched s;
    uint64_t first = 0, last = 0;

    http_sched_init(&s, rate, poisson, seed, 0, 1);
    for (unsigned i = 0; i < n; i++) {
        uint64_t at = http_sched_next(&s);
        if (i == 0)
            first = at;
        cr_assert_geq(at, last, "request %u leaves before the one before it",
                      i);
        last = at;
    }
    return (double)(n - 1) * CONC_NS_PER_S / (double)(last - first);
}

/* How many requests tasks tasks together schedule before duration_ns. */
static uint64_t run_count(double rate, bool poisson, uint64_t seed,
                          unsigned tasks, uint64_t duration_ns)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < tasks; i++) {
        struct http_sched s;
        http_sched_init(&s, rate, poisson, seed, i, tasks);
        n += http_sched_count(&s, duration_ns, UINT64_MAX);
    }
    return n;
}

Test(sched, uniform_is_evenly_spaced_and_tasks_interleave, .timeout = 10)
{
    struct http_sched s[4];
    uint64_t prev = 0;

    /* 1,000 a second over 4 tasks: task i at i, 4 + i, 8 + i ... ms. */
    for (unsigned i = 0; i < 4; i++)
        http_sched_init(&s[i], 1000, false, 1, i, 4);
    for (unsigned k = 0; k < 1000; k++)
        for (unsigned i = 0; i < 4; i++) {
            uint64_t at = http_sched_next(&s[i]);
            cr_assert_eq(at, (4ull * k + i) * CONC_NS_PER_MS,
                         "task %u, request %u at %llu ns", i, k,
                         (unsigned long long)at);
            cr_assert(k + i == 0 || at > prev);
            prev = at;
        }
    cr_assert_eq(run_count(1000, false, 1, 4, 10 * CONC_NS_PER_S), 10000);
    /* A rate that does not divide a second: no drift over a long run. */
    cr_assert_eq(run_count(3, false, 1, 1, 1000 * CONC_NS_PER_S), 3000);
    cr_assert_eq(run_count(7, false, 1, 3, 100 * CONC_NS_PER_S), 700);
}

Test(sched, uniform_holds_its_mean_rate, .timeout = 10)
{
    static const double rates[] = { 1, 37, 1000, 123457 };

    for (size_t i = 0; i < sizeof(rates) / sizeof(*rates); i++) {
        double got = one_task_rate(rates[i], false, 1, 10000);
        cr_assert(fabs(got / rates[i] - 1) < 0.001, "rate %g: got %g",
                  rates[i], got);
    }
}

Test(sched, poisson_holds_its_mean_rate_within_10_percent, .timeout = 20)
{
    static const double rates[] = { 10, 1000, 50000 };

    for (size_t i = 0; i < sizeof(rates) / sizeof(*rates); i++)
        for (uint64_t seed = 1; seed <= 5; seed++) {
            double got = one_task_rate(rates[i], true, seed, 20000);
            cr_assert(fabs(got / rates[i] - 1) < 0.10,
                      "rate %g seed %llu: got %g", rates[i],
                      (unsigned long long)seed, got);
        }
    /* 8 tasks' shares merge into the run's rate: 20,000 expected. */
    for (uint64_t seed = 1; seed <= 5; seed++) {
        uint64_t n = run_count(2000, true, seed, 8, 10 * CONC_NS_PER_S);
        cr_assert(n > 18000 && n < 22000, "seed %llu: %llu requests",
                  (unsigned long long)seed, (unsigned long long)n);
    }
}

Test(sched, poisson_gaps_are_exponential, .timeout = 10)
{
    enum { N = 50000 };
    struct http_sched s;
    double sum = 0, sq = 0, mean, cv;
    uint64_t prev = 0, short_gaps = 0;

    http_sched_init(&s, 1000, true, 7, 0, 1);
    for (unsigned i = 0; i < N; i++) {
        uint64_t at = http_sched_next(&s);
        double gap = (double)(at - prev);
        sum += gap;
        sq += gap * gap;
        /* P(gap < mean / 2) = 1 - e^-0.5 = 0.393 */
        short_gaps += gap < 0.5 * CONC_NS_PER_MS;
        prev = at;
    }
    mean = sum / N;
    /* An exponential's standard deviation equals its mean; uniform: 0. */
    cv = sqrt(sq / N - mean * mean) / mean;
    cr_assert(cv > 0.95 && cv < 1.05, "coefficient of variation %g", cv);
    cr_assert(fabs((double)short_gaps / N - 0.3935) < 0.01,
              "%llu of %d gaps under half the mean",
              (unsigned long long)short_gaps, N);
}

Test(sched, the_seed_repeats_a_schedule_and_tasks_differ, .timeout = 10)
{
    struct http_sched a, b, c, d;
    unsigned same_seed = 0, other_seed = 0, other_task = 0;

    http_sched_init(&a, 500, true, 42, 0, 2);
    http_sched_init(&b, 500, true, 42, 0, 2);
    http_sched_init(&c, 500, true, 43, 0, 2);
    http_sched_init(&d, 500, true, 42, 1, 2);
    for (unsigned i = 0; i < 1000; i++) {
        uint64_t x = http_sched_next(&a);
        same_seed += x == http_sched_next(&b);
        other_seed += x == http_sched_next(&c);
        other_task += x == http_sched_next(&d);
    }
    cr_assert_eq(same_seed, 1000);
    cr_assert_lt(other_seed, 10);
    cr_assert_lt(other_task, 10);
}

Test(sched, count_matches_the_schedule_and_its_cap, .timeout = 10)
{
    struct http_sched s, t;
    uint64_t n;

    http_sched_init(&s, 300, true, 9, 2, 3);
    t = s;
    n = http_sched_count(&s, 5 * CONC_NS_PER_S, UINT64_MAX);
    for (uint64_t i = 0; i < n; i++)
        cr_assert_lt(http_sched_next(&t), 5 * CONC_NS_PER_S);
    cr_assert_geq(http_sched_next(&t), 5 * CONC_NS_PER_S);
    cr_assert_eq(http_sched_count(&s, 5 * CONC_NS_PER_S, 10), 10);
    /* s itself did not move. */
    cr_assert_eq(s.k, 0);
}

Test(hist, p999_is_the_nearest_rank, .timeout = 10)
{
    static struct conc_hist h;
    struct conc_pcts p;

    conc_hist_init(&h);
    for (uint64_t v = 1; v <= 100; v++)
        conc_hist_add(&h, v);
    /* Below 128 every value is exact: rank ceil(0.999 * 100) = 100. */
    conc_hist_pcts(&h, &p);
    cr_assert_eq(p.p99, 99);
    cr_assert_eq(p.p999, 100);
    conc_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        conc_hist_add(&h, v * 1000);
    conc_hist_pcts(&h, &p);
    cr_assert(p.p999 >= 99900000 && p.p999 <= 99900000 * 1.008,
              "p99.9 %llu", (unsigned long long)p.p999);
    cr_assert(p.p99 <= p.p999 && p.p999 <= p.max);
    conc_hist_init(&h);
    conc_hist_pcts(&h, &p);
    cr_assert_eq(p.p999, 0);
}
