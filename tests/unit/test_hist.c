/*
 * The log-bucket histogram: percentiles within its stated 0.8% of exact
 * ones, atomic adds from many threads, merging.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hist.h"
#include "lib/sync.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Test(hist, exact_small_values, .timeout = 10)
{
    struct conc_hist h;

    conc_hist_init(&h);
    for (uint64_t v = 1; v <= 100; v++)
        conc_hist_add(&h, v);
    cr_assert_eq(conc_hist_percentile(&h, 50), 50);
    cr_assert_eq(conc_hist_percentile(&h, 99), 99);
    cr_assert_eq(conc_hist_percentile(&h, 100), 100);
    cr_assert_eq(h.min, 1);
    cr_assert_eq(h.max, 100);
    cr_assert_eq(h.count, 100);
    cr_assert_eq(h.sum, 5050);
}

Test(hist, percentiles_within_precision, .timeout = 10)
{
    enum { N = 20000 };
    static uint64_t v[N];
    static struct conc_hist h;
    static const double ps[] = { 50, 75, 90, 99, 99.9 };

    srand(42);
    conc_hist_init(&h);
    for (int i = 0; i < N; i++) {
        /* Spread over six decades, like latencies from 1 us to 1 s. */
        double e = 3 + 6.0 * rand() / RAND_MAX;
        v[i] = (uint64_t)__builtin_exp10(e);
        conc_hist_add(&h, v[i]);
    }
    qsort(v, N, sizeof(v[0]), cmp_u64);
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        size_t rank = (size_t)(ps[k] / 100 * N + 0.5);
        uint64_t exact = v[rank - 1], got = conc_hist_percentile(&h, ps[k]);
        cr_expect(got >= exact && got <= exact + exact / 100,
                  "p%g: got %lu, exact %lu", ps[k], (unsigned long)got,
                  (unsigned long)exact);
    }
    cr_assert_eq(conc_hist_percentile(&h, 100), v[N - 1]);
}

Test(hist, empty_and_extremes, .timeout = 10)
{
    struct conc_hist h;
    struct conc_pcts p;

    conc_hist_init(&h);
    conc_hist_pcts(&h, &p);
    cr_assert_eq(p.p50 + p.p99 + p.max, 0);
    conc_hist_add(&h, UINT64_MAX);
    conc_hist_add(&h, 0);
    cr_assert_eq(conc_hist_percentile(&h, 100), UINT64_MAX);
    cr_assert_eq(conc_hist_percentile(&h, 50), 0);
}

static struct conc_hist shared_hist;

static void *adder(void *arg)
{
    (void)arg;
    for (uint64_t i = 1; i <= 100000; i++)
        conc_hist_add_atomic(&shared_hist, i);
    return NULL;
}

Test(hist, atomic_adds_lose_nothing, .timeout = 30)
{
    pthread_t t[4];

    conc_hist_init(&shared_hist);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(shared_hist.count, 400000);
    cr_assert_eq(shared_hist.max, 100000);
    cr_assert_eq(shared_hist.sum, 4ull * 100000 * 100001 / 2);
}

/* One thread's run (conc_sync_local) adds without locked instructions and
   records exactly what the atomic path and conc_hist_add do. */
Test(hist, local_adds_match_atomic_and_plain, .timeout = 10)
{
    struct conc_hist plain, atomic, local;

    conc_hist_init(&plain);
    conc_hist_init(&atomic);
    conc_hist_init(&local);
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t v = (i * 2654435761u) % 5000000;
        conc_hist_add(&plain, v);
        conc_hist_add_atomic(&atomic, v);
        conc_sync_set_local(true);
        conc_hist_add_atomic(&local, v);
        conc_sync_set_local(false);
    }
    conc_sync_set_local(true);
    conc_hist_add_n_atomic(&local, 7, 3);
    conc_hist_add_n_atomic(&local, 9, 0);
    conc_sync_set_local(false);
    conc_hist_add_n_atomic(&atomic, 7, 3);
    for (int k = 0; k < 3; k++)
        conc_hist_add(&plain, 7);
    cr_assert_eq(local.count, 20003);
    cr_assert_eq(local.count, plain.count);
    cr_assert_eq(local.sum, plain.sum);
    cr_assert_eq(local.max, plain.max);
    cr_assert_eq(memcmp(local.b, plain.b, sizeof(local.b)), 0);
    cr_assert_eq(memcmp(local.b, atomic.b, sizeof(local.b)), 0);
    cr_assert_eq(local.sum, atomic.sum);
    cr_assert_eq(local.max, atomic.max);
}

/* A buffer of values added at once, on either path, is what adding them
   one by one records; with repeat counts, what adding each that many
   times does (a count of 0 adds nothing, not even to max). */
Test(hist, many_at_once_match_one_by_one, .timeout = 10)
{
    struct conc_hist one, many, many_local, n_at_a_time, reps_many,
        reps_local;
    uint64_t buf[32];
    uint32_t reps[32];

    conc_hist_init(&one);
    conc_hist_init(&many);
    conc_hist_init(&many_local);
    conc_hist_init(&n_at_a_time);
    conc_hist_init(&reps_many);
    conc_hist_init(&reps_local);
    for (unsigned r = 0; r < 100; r++) {
        unsigned n = r % 33; /* 0 to 32 values */
        for (unsigned i = 0; i < n; i++) {
            buf[i] = ((uint64_t)r * 2654435761u + i * 40503u) % 3000000;
            reps[i] = (r + i) % 11; /* 0 to 10 */
            conc_hist_add(&one, buf[i]);
            conc_hist_add_n_atomic(&n_at_a_time, buf[i], reps[i]);
        }
        conc_hist_add_many_atomic(&many, buf, NULL, n);
        conc_hist_add_many_atomic(&reps_many, buf, reps, n);
        conc_sync_set_local(true);
        conc_hist_add_many_atomic(&many_local, buf, NULL, n);
        conc_hist_add_many_atomic(&reps_local, buf, reps, n);
        conc_sync_set_local(false);
    }
    cr_assert_gt(one.count, 1000);
    cr_assert_gt(n_at_a_time.count, 5000);
    struct { struct conc_hist *got, *want; } same[] = {
        { &many, &one }, { &many_local, &one },
        { &reps_many, &n_at_a_time }, { &reps_local, &n_at_a_time },
    };
    for (unsigned k = 0; k < sizeof(same) / sizeof(same[0]); k++) {
        cr_assert_eq(same[k].got->count, same[k].want->count, "pair %u", k);
        cr_assert_eq(same[k].got->sum, same[k].want->sum, "pair %u", k);
        cr_assert_eq(same[k].got->max, same[k].want->max, "pair %u", k);
        cr_assert_eq(memcmp(same[k].got->b, same[k].want->b,
                            sizeof(one.b)), 0, "pair %u", k);
    }

    /* Only zero counts: nothing at all. */
    conc_hist_init(&many);
    buf[0] = 123456;
    reps[0] = 0;
    conc_hist_add_many_atomic(&many, buf, reps, 1);
    cr_assert_eq(many.count, 0);
    cr_assert_eq(many.max, 0);
}

Test(hist, merge, .timeout = 10)
{
    struct conc_hist a, b;

    conc_hist_init(&a);
    conc_hist_init(&b);
    for (uint64_t i = 1; i <= 50; i++)
        conc_hist_add(&a, i);
    for (uint64_t i = 51; i <= 100; i++)
        conc_hist_add(&b, i);
    conc_hist_merge(&a, &b);
    cr_assert_eq(a.count, 100);
    cr_assert_eq(a.min, 1);
    cr_assert_eq(a.max, 100);
    cr_assert_eq(conc_hist_percentile(&a, 50), 50);
}

/*
 * Percentiles by nearest rank against the sorted values: for every small
 * count (where a rounded rank is off by a whole value) and p in wrk's set,
 * the histogram gives the exact nearest-rank value (ceil(p/100 * n)) or at
 * most its bucket's 0.8% above it, never below.
 */
Test(hist, nearest_rank_for_small_counts, .timeout = 20)
{
    static const double ps[] = { 50, 75, 90, 99, 99.9, 100 };
    uint64_t v[120];

    srand(11);
    for (size_t n = 1; n <= 120; n++) {
        struct conc_hist h;

        conc_hist_init(&h);
        for (size_t i = 0; i < n; i++) {
            /* Half the counts small enough to be exact, half in buckets. */
            v[i] = n % 2 ? (uint64_t)(rand() % 120) + 1
                         : (uint64_t)rand() % 50000000 + 1000;
            conc_hist_add(&h, v[i]);
        }
        qsort(v, n, sizeof(v[0]), cmp_u64);
        for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
            size_t rank = (size_t)ceil(ps[k] / 100 * (double)n - 1e-9);
            uint64_t want = v[(rank ? rank : 1) - 1];
            uint64_t got = conc_hist_percentile(&h, ps[k]);
            cr_assert(got >= want && (double)got <= (double)want * 1.0079,
                      "n=%zu p%g: got %llu, nearest rank %zu is %llu", n,
                      ps[k], (unsigned long long)got, rank,
                      (unsigned long long)want);
        }
    }
}
