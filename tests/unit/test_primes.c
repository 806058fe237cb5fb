/*
 * The primes workload against a slow reference sieve: totals and every
 * task's own count on random n, T and segment sizes, pi(10^k) through the
 * whole pipeline, edge ranges, interleaved and threaded tasks, and the
 * independent check (Lucy Hedgehog's count) that verify() relies on.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/opts.h"
#include "workloads/workload.h"

extern const struct conc_workload conc_workload_primes;
static const struct conc_workload *const W = &conc_workload_primes;

#define REF_MAX 4000000u
#define TASK_BYTES 256

/* pi_ref[x] = the number of primes <= x, by trial-free plain sieving. */
static uint32_t *pi_ref;

static void ref_init(void)
{
    uint8_t *composite = calloc(REF_MAX + 1, 1);
    uint32_t count = 0;

    cr_assert_not_null(composite);
    pi_ref = malloc((REF_MAX + 1) * sizeof(*pi_ref));
    cr_assert_not_null(pi_ref);
    for (uint64_t i = 2; i <= REF_MAX; i++) {
        if (!composite[i]) {
            count++;
            for (uint64_t j = i * i; j <= REF_MAX; j += i)
                composite[j] = 1;
        }
        pi_ref[i] = count;
    }
    pi_ref[0] = pi_ref[1] = 0;
    free(composite);
}

/* Primes in [lo, hi] by the reference; 0 for an empty range. */
static uint64_t ref_count(uint64_t lo, uint64_t hi)
{
    if (lo > hi)
        return 0;
    return pi_ref[hi] - (lo ? pi_ref[lo - 1] : 0);
}

/* The test's own copy of the split: task i of T gets [lo, end) of [2, n]. */
static void split(uint64_t n, unsigned i, unsigned tasks, uint64_t *lo,
                  uint64_t *hi)
{
    __extension__ unsigned __int128 len = n - 1;

    *lo = 2 + (uint64_t)(len * i / tasks);
    *hi = 2 + (uint64_t)(len * (i + 1) / tasks) - 1;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64*: fixed seed, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static uint64_t rng_between(uint64_t lo, uint64_t hi)
{
    return lo + rng() % (hi - lo + 1);
}

static void *setup_cell(uint64_t n, size_t segment, unsigned tasks)
{
    struct conc_params p;
    char buf[32];
    void *shared = NULL;

    cr_assert_eq(conc_params_init(&p, W->opts), 0);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n);
    cr_assert_eq(conc_params_set(&p, "n", buf), 0, "n=%s", buf);
    if (segment) {
        snprintf(buf, sizeof(buf), "%zu", segment);
        cr_assert_eq(conc_params_set(&p, "segment", buf), 0, "segment=%s",
                     buf);
    }
    cr_assert_eq(W->setup(&shared, &p, tasks), 0);
    conc_params_fini(&p);
    return shared;
}

/* Runs one task to its end; its count into *count, its steps into *steps. */
static void run_task(void *shared, unsigned i, unsigned tasks,
                     uint64_t *count, uint64_t *steps)
{
    _Alignas(16) char task[TASK_BYTES];
    struct conc_task_out out;
    struct conc_wait w;
    uint64_t calls = 0;

    memset(task, 0, sizeof(task));
    cr_assert_eq(W->task_init(task, shared, i, tasks), 0);
    do {
        memset(&w, 0, sizeof(w));
        cr_assert_eq(W->step(task, &w), 0);
        cr_assert(w.want == CONC_YIELD || w.want == CONC_DONE);
        cr_assert(++calls < 100000000, "task %u never ends", i);
    } while (w.want != CONC_DONE);
    memset(&out, 0, sizeof(out));
    cr_assert_eq(W->task_result(task, &out), 0);
    W->task_fini(task);
    *count = out.result;
    *steps = out.ops;
}

/*
 * Runs every task of (n, T, segment) one after another, checking each
 * task's count and step count, and the total through verify().
 */
static void check_cell(uint64_t n, unsigned tasks, size_t segment)
{
    void *shared = setup_cell(n, segment, tasks);
    size_t seg = segment ? segment & ~(size_t)7 : 0;
    struct conc_totals tot = { .tasks = tasks };
    char why[128] = "";

    for (unsigned i = 0; i < tasks; i++) {
        uint64_t lo, hi, count, steps;

        split(n, i, tasks, &lo, &hi);
        run_task(shared, i, tasks, &count, &steps);
        cr_assert_eq(count, ref_count(lo, hi),
                     "n=%llu T=%u segment=%zu task %u [%llu, %llu]: %llu "
                     "primes, expected %llu",
                     (unsigned long long)n, tasks, segment, i,
                     (unsigned long long)lo, (unsigned long long)hi,
                     (unsigned long long)count,
                     (unsigned long long)ref_count(lo, hi));
        if (seg && lo <= hi) {
            /* One step per segment of 30 numbers a byte: bounded work. */
            uint64_t bytes = hi / 30 - lo / 30 + 1;
            cr_assert_eq(steps, (bytes + seg - 1) / seg,
                         "task %u of n=%llu: %llu steps", i,
                         (unsigned long long)n, (unsigned long long)steps);
        }
        tot.result += count;
    }
    cr_assert_eq(tot.result, pi_ref[n], "n=%llu T=%u: total",
                 (unsigned long long)n, tasks);
    cr_assert_eq(W->verify(shared, &tot, why, sizeof(why)), 0, "%s", why);
    W->teardown(shared);
}

/* The count verify() expects for n, read back from its failure message. */
static uint64_t expected_by_verify(uint64_t n)
{
    void *shared = setup_cell(n, 0, 1);
    struct conc_totals tot = { .tasks = 1, .result = ~0ull };
    char why[128] = "";
    unsigned long long got, at, expected;

    cr_assert_eq(W->verify(shared, &tot, why, sizeof(why)), -EINVAL);
    cr_assert_eq(sscanf(why, "%llu primes up to %llu, expected %llu", &got,
                        &at, &expected),
                 3, "why: '%s'", why);
    cr_assert_eq(at, n);
    W->teardown(shared);
    return expected;
}

TestSuite(primes, .init = ref_init);

Test(primes, task_state_is_small, .timeout = 10)
{
    /* 100,000 tasks must fit: no per-task arrays of sieving primes. */
    cr_assert_leq(W->task_size, 64);
    cr_assert_leq(W->task_size, TASK_BYTES);
}

Test(primes, tiny_n_every_split, .timeout = 60)
{
    for (uint64_t n = 2; n <= 400; n++)
        for (unsigned tasks = 1; tasks <= 12; tasks++)
            check_cell(n, tasks, 0);
}

Test(primes, more_tasks_than_numbers, .timeout = 30)
{
    /* Most ranges are empty or hold one number, odd or even. */
    check_cell(2, 5, 0);
    check_cell(3, 7, 0);
    check_cell(4, 1000, 0);
    check_cell(100, 1000, 0);
    check_cell(1000, 999, 0);
    check_cell(1000, 4096, 0);
}

Test(primes, random_ranges, .timeout = 120)
{
    for (int k = 0; k < 60; k++) {
        uint64_t n = rng_between(2, REF_MAX);
        unsigned tasks = (unsigned)rng_between(1, 64);
        size_t segment = rng() % 3 ? (size_t)rng_between(1024, 16384) : 0;

        check_cell(n, tasks, segment);
    }
}

Test(primes, boundaries_on_primes_and_squares, .timeout = 60)
{
    /* With T = 2 the second range starts at 2 + (n - 1) / 2: choose n so
       the cut falls on, just before and just after chosen numbers. */
    static const uint64_t at[] = {
        7,     29,    31,    37,    841,   961,   1369,  1681,  29791,
        30031, 32749, 32761, 44521, 49729, 30720, 30721, 30719, 61441,
        961 * 2 + 1, 1000003, 1000009, 1018081, 3999971, 3996001,
    };

    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        for (uint64_t x = at[k] - 1; x <= at[k] + 1; x++) {
            for (uint64_t n = 2 * x - 4; n <= 2 * x - 2; n++) {
                if (n < 2 || n > REF_MAX)
                    continue;
                check_cell(n, 2, 0);
                check_cell(n, 2, 1024);
            }
            /* n itself on the number: the last range ends there. */
            if (x >= 2 && x <= REF_MAX)
                check_cell(x, 3, 1024);
        }
    }
}

Test(primes, segment_boundaries, .timeout = 60)
{
    /* A segment of s bytes holds 30 s numbers; put n and the cuts on and
       around those multiples, with the smallest segment and odd sizes. */
    static const size_t segs[] = { 1024, 1032, 4096, 8200 };

    for (size_t k = 0; k < sizeof(segs) / sizeof(segs[0]); k++) {
        uint64_t span = 30 * (uint64_t)segs[k];
        for (uint64_t m = 1; m <= 4; m++) {
            for (uint64_t n = m * span - 2; n <= m * span + 2; n++) {
                check_cell(n, 1, segs[k]);
                check_cell(n, 3, segs[k]);
            }
        }
        check_cell(REF_MAX, 7, segs[k]);
    }
}

Test(primes, pi_of_powers_of_ten, .timeout = 60)
{
    static const uint64_t pi[] = { 0, 4, 25, 168, 1229, 9592, 78498, 664579,
                                   5761455, 50847534 };
    uint64_t n = 10;

    for (int k = 1; k <= 9; k++, n *= 10) {
        unsigned tasks = k < 9 ? (unsigned)rng_between(1, 40) : 3;
        void *shared = setup_cell(n, 0, tasks);
        struct conc_totals tot = { .tasks = tasks };
        char why[128] = "";

        for (unsigned i = 0; i < tasks; i++) {
            uint64_t count, steps;
            run_task(shared, i, tasks, &count, &steps);
            tot.result += count;
        }
        cr_assert_eq(tot.result, pi[k], "pi(1e%d) with %u tasks: %llu", k,
                     tasks, (unsigned long long)tot.result);
        cr_assert_eq(W->verify(shared, &tot, why, sizeof(why)), 0, "%s",
                     why);
        tot.result++;
        cr_assert_eq(W->verify(shared, &tot, why, sizeof(why)), -EINVAL);
        W->teardown(shared);
    }
}

Test(primes, lucy_matches_reference, .timeout = 60)
{
    static const uint64_t fixed[] = { 2, 3, 4, 5, 6, 7, 8, 9, 11, 25, 29, 30,
                                      31, 99, 101, 961, 1000001 };

    for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
        cr_assert_eq(expected_by_verify(fixed[k]), pi_ref[fixed[k]],
                     "n=%llu", (unsigned long long)fixed[k]);
    for (int k = 0; k < 200; k++) {
        uint64_t n = rng_between(2, REF_MAX);
        cr_assert_eq(expected_by_verify(n), pi_ref[n], "n=%llu",
                     (unsigned long long)n);
    }
}

Test(primes, interleaved_tasks_are_independent, .timeout = 60)
{
    /* Round-robin steps, as a green or event-loop scheduler runs them,
       must give every task the count it gets alone. */
    enum { TASKS = 37 };
    static _Alignas(16) char task[TASKS][TASK_BYTES];
    uint64_t n = 3456789;
    void *shared = setup_cell(n, 2048, TASKS);
    bool done[TASKS] = { false };
    unsigned left = TASKS;

    for (unsigned i = 0; i < TASKS; i++)
        cr_assert_eq(W->task_init(task[i], shared, i, TASKS), 0);
    while (left) {
        for (unsigned i = 0; i < TASKS; i++) {
            struct conc_wait w = { 0 };
            if (done[i])
                continue;
            cr_assert_eq(W->step(task[i], &w), 0);
            if (w.want == CONC_DONE) {
                done[i] = true;
                left--;
            }
        }
    }
    for (unsigned i = 0; i < TASKS; i++) {
        struct conc_task_out out = { 0 };
        uint64_t lo, hi;
        split(n, i, TASKS, &lo, &hi);
        cr_assert_eq(W->task_result(task[i], &out), 0);
        cr_assert_eq(out.result, ref_count(lo, hi), "task %u", i);
        W->task_fini(task[i]);
    }
    W->teardown(shared);
}

struct threaded {
    void *shared;
    unsigned first, tasks, stride;
    uint64_t n;
    int bad;
};

static void *threaded_main(void *arg)
{
    struct threaded *t = arg;

    for (unsigned i = t->first; i < t->tasks; i += t->stride) {
        _Alignas(16) char task[TASK_BYTES];
        struct conc_task_out out = { 0 };
        struct conc_wait w = { 0 };
        uint64_t lo, hi;

        memset(task, 0, sizeof(task));
        if (W->task_init(task, t->shared, i, t->tasks))
            t->bad++;
        do {
            if (W->step(task, &w))
                t->bad++;
        } while (w.want != CONC_DONE);
        W->task_result(task, &out);
        W->task_fini(task);
        split(t->n, i, t->tasks, &lo, &hi);
        if (out.result != ref_count(lo, hi))
            t->bad++;
    }
    return NULL;
}

Test(primes, threads_share_nothing, .timeout = 60)
{
    /* Each thread sieves in its own buffer, made on its first step. */
    enum { THREADS = 4, TASKS = 64 };
    uint64_t n = REF_MAX;
    void *shared = setup_cell(n, 4096, TASKS);
    struct threaded th[THREADS];
    pthread_t tid[THREADS];

    for (unsigned k = 0; k < THREADS; k++) {
        th[k] = (struct threaded){ shared, k, TASKS, THREADS, n, 0 };
        cr_assert_eq(pthread_create(&tid[k], NULL, threaded_main, &th[k]), 0);
    }
    for (unsigned k = 0; k < THREADS; k++) {
        cr_assert_eq(pthread_join(tid[k], NULL), 0);
        cr_assert_eq(th[k].bad, 0, "thread %u: %d wrong", k, th[k].bad);
    }
    W->teardown(shared);
}

Test(primes, default_segment_covers_sieving_primes, .timeout = 30)
{
    /* Up to n = 1e9 the default is the L1d cache (at least 4 KiB where
       the kernel says less); above, at least the power of two at or above
       sqrt(n), up to 256 KiB: seen through the step count of a range. */
    struct { uint64_t n; size_t min_seg; } cases[] = {
        { 1000000000, 4096 }, { 2000000000, 65536 }, { 20000000000, 262144 },
    };

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        uint64_t n = cases[k].n, count, steps, lo, hi, bytes;
        unsigned tasks = (unsigned)(n / 4000000); /* 4e6 numbers a task */
        void *shared = setup_cell(n, 0, tasks);

        split(n, 1, tasks, &lo, &hi);
        bytes = hi / 30 - lo / 30 + 1;
        run_task(shared, 1, tasks, &count, &steps);
        cr_assert_leq(steps, (bytes + cases[k].min_seg - 1) / cases[k].min_seg,
                      "n=%llu: %llu steps for %llu bytes",
                      (unsigned long long)n, (unsigned long long)steps,
                      (unsigned long long)bytes);
        cr_assert_gt(count, 0);
        W->teardown(shared);
    }
}
