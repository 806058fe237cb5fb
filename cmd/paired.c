/*
 * Speedups from runs paired in time, with a percentile-bootstrap interval
 * of the median ratio, and the physical limit a CPU-bound one cannot pass.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/paired.h"
#include "cmd/stats.h"
#include "lib/err.h"

static int paired_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int paired_cmp_start(const void *a, const void *b)
{
    const struct conc_timed *x = a, *y = b;
    return (x->start_ns > y->start_ns) - (x->start_ns < y->start_ns);
}

size_t conc_pair_ratios(const struct conc_timed *base, size_t nb,
                        const struct conc_timed *cell, size_t nc,
                        double *ratios)
{
    struct conc_timed *b;
    size_t n = 0;

    if (!nb)
        return 0;
    b = conc_xmalloc(nb * sizeof(*b));
    memcpy(b, base, nb * sizeof(*b));
    qsort(b, nb, sizeof(*b), paired_cmp_start);
    for (size_t i = 0; i < nc; i++) {
        uint64_t t = cell[i].start_ns;
        size_t lo = 0, hi = nb, j;

        if (!(cell[i].wall_ns > 0))
            continue;
        /* The first base run starting at or after t, then whichever of it
           and the one before is nearer; the earlier wins a tie. */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (b[mid].start_ns < t)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == nb)
            j = nb - 1;
        else if (lo == 0)
            j = 0;
        else
            j = t - b[lo - 1].start_ns <= b[lo].start_ns - t ? lo - 1 : lo;
        ratios[n++] = b[j].wall_ns / cell[i].wall_ns;
    }
    free(b);
    return n;
}

static uint64_t paired_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform integer in [0, n), n > 0, without modulo bias. */
static size_t paired_below(uint64_t *s, size_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

    do
        x = paired_splitmix(s);
    while (x >= limit);
    return (size_t)(x % n);
}

/* The k-th smallest (1-based) of a resample given as counts over s. */
static double paired_kth(const double *s, const size_t *counts, size_t n,
                         size_t k)
{
    size_t cum = 0;

    for (size_t j = 0; j < n; j++) {
        cum += counts[j];
        if (cum >= k)
            return s[j];
    }
    return s[n - 1];
}

int conc_bootstrap_median(const double *x, size_t n, unsigned resamples,
                          uint64_t seed, double *med, double *lo, double *hi)
{
    size_t *counts, klo, khi;
    double *s, *meds;
    uint64_t st = seed;

    if (!n || !resamples)
        return -EDOM;
    s = conc_xmalloc(n * sizeof(*s));
    memcpy(s, x, n * sizeof(*s));
    qsort(s, n, sizeof(*s), paired_cmp_double);
    *med = conc_median(s, n);
    if (n == 1) {
        *lo = *hi = s[0];
        free(s);
        return 0;
    }
    /* A resample drawn from the sorted values is just how often it took
       each one: its median is found by walking those counts, in O(n),
       with no sort per resample. */
    counts = conc_xmalloc(n * sizeof(*counts));
    meds = conc_xmalloc(resamples * sizeof(*meds));
    for (unsigned r = 0; r < resamples; r++) {
        memset(counts, 0, n * sizeof(*counts));
        for (size_t i = 0; i < n; i++)
            counts[paired_below(&st, n)]++;
        meds[r] = n % 2 ? paired_kth(s, counts, n, n / 2 + 1)
                        : (paired_kth(s, counts, n, n / 2) +
                           paired_kth(s, counts, n, n / 2 + 1)) / 2;
    }
    qsort(meds, resamples, sizeof(*meds), paired_cmp_double);
    /* The ceil(p * R)-th smallest, in integers: 0.025 * 2000 is not 50 in
       binary floating point. */
    klo = ((size_t)resamples * 25 + 999) / 1000;
    khi = ((size_t)resamples * 975 + 999) / 1000;
    *lo = meds[klo ? klo - 1 : 0];
    *hi = meds[khi ? khi - 1 : 0];
    free(meds);
    free(counts);
    free(s);
    return 0;
}

int conc_speedup_paired(const struct conc_timed *base, size_t nb,
                        const struct conc_timed *cell, size_t nc,
                        struct conc_speedup *sp)
{
    double *ratios;
    size_t n;
    int r;

    memset(sp, 0, sizeof(*sp));
    if (!nb || !nc)
        return -EDOM;
    ratios = conc_xmalloc(nc * sizeof(*ratios));
    n = conc_pair_ratios(base, nb, cell, nc, ratios);
    r = conc_bootstrap_median(ratios, n, CONC_BOOTSTRAP_RESAMPLES,
                              CONC_BOOTSTRAP_SEED, &sp->value, &sp->lo,
                              &sp->hi);
    if (!r)
        sp->pairs = n;
    free(ratios);
    return r;
}

void conc_speedup_check(struct conc_speedup *sp, unsigned tasks,
                        double usable_cpus)
{
    if (!sp->pairs || !(usable_cpus > 0) || !tasks)
        return;
    sp->limit = (double)tasks < usable_cpus ? (double)tasks : usable_cpus;
    sp->impossible = sp->lo > sp->limit * (1 + CONC_LIMIT_TOLERANCE);
}

void conc_speedup_why(const struct conc_speedup *sp, char *buf, size_t n)
{
    snprintf(buf, n, "above min(tasks, usable CPUs) = %g: the baseline was "
             "disturbed", sp->limit);
}
